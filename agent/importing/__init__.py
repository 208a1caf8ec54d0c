"""Importing contacts from the files people have: CSV in any encoding and delimiter a CRM or a
spreadsheet writes, and ``.xlsx``.

The client side (the CLI) reads the file (:mod:`.reading`, :mod:`.excel`), decides date orders over
the whole file (:mod:`.dates`) and sends rows in chunks (:mod:`.upload`); the agent side maps columns
to fields (:mod:`.columns`), matches owners (:mod:`.owners`), cleans values (:mod:`.values`) and
writes (:mod:`.apply`). Every kept, changed or refused value is reported (:mod:`.report`).
"""
