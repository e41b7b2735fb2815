"""QBR reports an MSP takes to its clients: client profitability and license savings.

`model` turns mart rows (as the API reads them) into report content with totals, `pdf` and
`xlsx` render that content, `formatting` is the one place numbers become text. Nothing here
reads a database: the API's reports router reads the marts through the same snapshot lease and
mart queries as `/api/v1/marts`, so a report and the API can never disagree on a number.
"""
