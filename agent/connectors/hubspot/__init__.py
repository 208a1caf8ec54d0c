"""HubSpot CRM v3 connector: ``spec`` (how leadsync knows HubSpot: credentials, default field mappings,
connector and sandbox), ``client`` (the Connector), ``pull`` (the incremental pull), ``writes`` (batch
writes), ``wire`` (JSON <-> canonical records), ``oauth`` (OAuth app tokens), ``errors`` (error bodies).

``sandbox`` holds a stateful HubSpot stand-in for demos and tests. This package imports nothing itself, so
loading ``spec`` loads no connector.
"""
