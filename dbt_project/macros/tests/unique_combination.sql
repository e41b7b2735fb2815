{#
    Generic data test: the combination of columns is unique in the model (NULLs compare
    equal, like a natural key with an optional part). Fails with one row per duplicated
    combination.
#}
{% test unique_combination(model, combination_of_columns) %}

with key_counts as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

)

select *
from key_counts
where row_count > 1

{% endtest %}
