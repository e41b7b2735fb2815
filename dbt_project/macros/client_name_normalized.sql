{#
    A client name as client identity compares it (vendor-exports spec, "Client identity"):
    case-folded, `Parent:Sub` taken as Parent, `&` = and, punctuation removed, spaces
    collapsed and trimmed, one legal suffix (LLC, Inc, Ltd, Pty Ltd, GmbH, PC, LLP, Co)
    dropped. `X T/A Y` is split by client_name_trading_part before this. Letters outside
    a-z (accents) count as punctuation: both sides lose them alike.

    regexp_replace(text, pattern, replacement, 'g') means the same on DuckDB (RE2) and
    PostgreSQL (ARE) for these patterns; dispatched so an adapter can override it.
#}
{% macro client_name_normalized(name_expression) -%}
    {{ return(adapter.dispatch('client_name_normalized', 'moatmetrics')(name_expression)) }}
{%- endmacro %}

{% macro default__client_name_normalized(name_expression) -%}
    trim(regexp_replace(
        trim(regexp_replace(
            regexp_replace(
                replace(split_part(lower({{ name_expression }}), ':', 1), '&', ' and '),
                '[^a-z0-9[:space:]]', '', 'g'
            ),
            '[[:space:]]+', ' ', 'g'
        )),
        ' (pty ltd|llc|inc|ltd|gmbh|pc|llp|co)$', '', 'g'
    ))
{%- endmacro %}

{# Part 1 (X) or 2 (Y) of `X T/A Y` ("trading as"); part 2 is '' when there is none. #}
{% macro client_name_trading_part(name_expression, part) -%}
    split_part(lower({{ name_expression }}), ' t/a ', {{ part }})
{%- endmacro %}
