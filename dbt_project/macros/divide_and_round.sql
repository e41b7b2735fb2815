{#
    numerator / denominator rounded half away from zero to `scale` decimal places, exactly
    (decimal arithmetic, no binary floating point), and NULL when the denominator is zero or
    NULL. Operands are exact to 4 decimal places (money, hours, seat counts).

    The same inputs give the same digits on every database: a ratio sitting exactly on a
    rounding boundary (e.g. 15 / 160 = 0.09375 -> 0.0938) must not depend on the engine.
#}
{% macro divide_and_round(numerator, denominator, scale) -%}
    {{ return(adapter.dispatch('divide_and_round', 'moatmetrics')(numerator, denominator, scale)) }}
{%- endmacro %}

{# PostgreSQL (and the default): numeric division is exact to well beyond `scale` places. #}
{% macro default__divide_and_round(numerator, denominator, scale) -%}
    round(
        cast({{ numerator }} as numeric)
        / nullif(cast({{ denominator }} as numeric), 0),
        {{ scale }}
    )
{%- endmacro %}

{#
    DuckDB divides DECIMALs in DOUBLE precision, so the quotient is computed on integers:
    with N and D the operands scaled to integers (x 10^4),
        round(N / D, s) = sign(N / D) * floor((2 * |N| * 10^s + |D|) / (2 * |D|)) / 10^s.
#}
{% macro duckdb__divide_and_round(numerator, denominator, scale) -%}
    {%- set scaled_numerator = "cast(cast(" ~ numerator ~ " as decimal(38, 4)) * 10000 as hugeint)" -%}
    {%- set scaled_denominator = "cast(cast(" ~ denominator ~ " as decimal(38, 4)) * 10000 as hugeint)" -%}
    {%- set unit = "0." ~ ("0" * (scale - 1)) ~ "1" if scale > 0 else "1" -%}
    (case
        when ({{ numerator }}) is null or ({{ denominator }}) is null or ({{ denominator }}) = 0
            then null
        else
            (case when (({{ numerator }}) < 0) <> (({{ denominator }}) < 0) then -1 else 1 end)
            * cast(
                (2 * abs({{ scaled_numerator }}) * {{ 10 ** scale }} + abs({{ scaled_denominator }}))
                // (2 * abs({{ scaled_denominator }}))
                as decimal(38, 0)
            )
            * {{ unit }}
    end)
{%- endmacro %}
