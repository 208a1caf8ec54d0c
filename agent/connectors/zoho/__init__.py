"""Zoho CRM REST API (v8) connector: ``spec`` (how leadsync knows Zoho CRM: credentials, default field
mappings, connector and sandbox), ``client`` (the Connector), ``oauth`` (tokens per data center and the
``api_domain``), ``pull`` (the incremental list pull), ``writes`` (multi-record writes), ``wire`` (JSON <->
canonical records, search criteria), ``errors`` (error bodies), ``headers`` (``If-Modified-Since``).

``sandbox`` holds a stateful Zoho CRM stand-in for demos and tests. This package imports nothing itself, so
loading ``spec`` loads no connector.
"""
