"""The registry collects one spec per CRM folder and loads no connector until one is built."""

import subprocess
import sys

from leadsync.agent.connectors.registry import CRMS, DEFAULT_MAPPINGS, SPECS, make_connector
from leadsync.agent.connectors.sandboxes import SANDBOX_CRMS, credentials


def test_every_crm_folder_declares_itself_once() -> None:
    assert CRMS == ("hubspot", "salesforce", "zoho", "autotask") == SANDBOX_CRMS
    assert all(spec.default_mappings[0].local == "email" for spec in SPECS)
    assert set(DEFAULT_MAPPINGS) == set(CRMS)


def test_starting_the_agent_loads_no_connector() -> None:
    code = ("import sys, leadsync.agent.daemon, leadsync.agent.cli; "
            "print(sorted(m for m in sys.modules if m.startswith('leadsync.agent.connectors.')))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    for crm in CRMS:
        assert f"'leadsync.agent.connectors.{crm}.spec'" in loaded
        assert f"'leadsync.agent.connectors.{crm}.client'" not in loaded
        assert f"'leadsync.agent.connectors.{crm}.sandbox'" not in loaded


async def test_a_connector_is_built_from_its_spec_at_the_default_base_url() -> None:
    connector = make_connector("hubspot", None, credentials("hubspot", "pat-token"))
    try:
        assert (connector.name, connector.base_url) == ("hubspot", "https://api.hubapi.com")
    finally:
        await connector.aclose()
