"""Autotask PSA REST API connector: ``spec`` (how leadsync knows Autotask: credentials, default field
mappings, connector and sandbox), ``client`` (the Connector), ``pull`` (the incremental Contacts pull),
``query`` (filter bodies and ``nextPageUrl`` paging), ``companies`` (a contact's Company: find or create by
name), ``wire`` (JSON <-> canonical records), ``errors`` (error bodies).

``sandbox`` holds a stateful Autotask stand-in for demos and tests. This package imports nothing itself, so
loading ``spec`` loads no connector. ``company`` maps to the pseudo-property ``companyName``, which a push
uses to find or create the contact's Company.
"""
