"""Loading export files into the warehouse: archive, type, check, replace or upsert, quarantine.

Above what it uses: the data contract and its readers (`moatmetrics.contract`), the quality
gate (`moatmetrics.quality`), the source profiles (`moatmetrics.sources`) and the app
database's corrections (`moatmetrics.appdb`, copied into each run by `override_copy`).
"""
