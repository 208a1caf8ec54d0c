"""The owner under any name: the names a field, a mapping or an export column uses for the CRM owner.

Shared by the agent's field rules (:mod:`leadsync.agent.field_rules`: a local edit naming the owner is
refused) and the import's column plan (:mod:`leadsync.common.importfile.columns`: such a column is read as
the owner), so both agree on what "the owner" is called.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

OWNER_NAMES: Final = frozenset((
    "owner ownerid ownername owneremail ownerfullname contactowner contactownerid contactownername leadowner "
    "leadownerid leadownername leadowneremail hubspotowner hubspotownerid recordowner kontaktinhaber "
    "ownerresourceid ownerresource").split())
"""Owner names, normalised (:func:`normalise_name`): leadsync's own (``owner``, ``owner_id``), each CRM's owner
property (HubSpot ``hubspot_owner_id``, Salesforce ``OwnerId``, Zoho ``Owner``, Autotask ``ownerResourceID``)
and the owner columns of the CRMs' exports (the importer reads these columns as the owner)."""

def normalise_name(name: str) -> str:
    """``"HubSpot Owner_ID"`` -> ``"hubspotownerid"``: accents dropped, lower case, letters and digits only."""
    plain = unicodedata.normalize("NFKD", name.strip().lower()).replace("ß", "ss")
    return re.sub(r"[^a-z0-9]", "", plain.encode("ascii", "ignore").decode())


def is_owner_name(name: str) -> bool:
    """Whether ``name`` names the owner (see :data:`OWNER_NAMES`)."""
    return normalise_name(name) in OWNER_NAMES
