"""Reading the contacts files people have (CSV in any encoding and delimiter a CRM or a spreadsheet
writes, and ``.xlsx``) and sending them to the agent's ``contacts.import``: the client side of an
import, shared by ``leadsync import`` and the TUI's import screen.

:mod:`.reading` detects the layout (encoding, delimiter, header, footers), :mod:`.excel` reads
workbooks and knows Excel's artefacts, :mod:`.columns` plans where each column goes and decides date
orders (:mod:`.dates`) over the whole file, :mod:`.upload` sends the rows in chunks, and
:mod:`.report` is the answer's one shape. The agent side (:mod:`leadsync.agent.importing`) uses the
same column plan, dates and report. Nothing here imports the agent or the TUI.
"""
