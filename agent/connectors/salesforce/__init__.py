"""Salesforce REST API connector: ``spec`` (how leadsync knows Salesforce: credentials, default field
mappings, connector and sandbox), ``client`` (the Connector), ``oauth`` (refresh-token sessions and
``instance_url``), ``pull`` (the incremental SOQL pull), ``writes`` (sObject Collections writes), ``wire``
(JSON <-> canonical records), ``soql`` (escaped literals), ``errors`` (error bodies).

``sandbox`` holds a stateful Salesforce stand-in for demos and tests. This package imports nothing itself,
so loading ``spec`` loads no connector.
"""
