"""QBR reports: client profitability and license savings for the MSP, and the client's QBR.

`model` turns mart rows (as the API reads them) into report content with totals, `pdf` and
`xlsx` render that content, `formatting` is the one place numbers become text. `qbr` is the
client's version (one client, no margin, cost or other client) and `qbr_pdf` draws it with the
MSP's name, logo and charts. Nothing here reads a database: the API's reports router reads the
marts through the same snapshot lease and mart queries as `/api/v1/marts`, so a report and the
API can never disagree on a number.
"""
