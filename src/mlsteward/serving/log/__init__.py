"""The prediction log: journal on disk, shipper process, database table.

An answered request is appended to the journal (:mod:`.journal`) before its
answer leaves; the shipper process (:mod:`.shipper`, started by
:mod:`.writer`) copies journal lines into the log table; :mod:`.service` is
the :class:`~.service.PredictionLog` that every other capability reads and
writes the log through; :mod:`.rows` turns request lines into rows.
Importing this package imports nothing else: the serving process stays light.
"""
