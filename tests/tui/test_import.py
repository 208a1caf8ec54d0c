"""The import screen against a real agent: preview (nothing written), a column sent to another field or
not imported, the import itself, and each line's problems; Enter never imports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, OptionList, Select, Static

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from leadsync.tui.app import LeadsyncApp
from leadsync.tui.import_forms import ColumnFieldScreen, complete_path
from leadsync.tui.import_screen import ImportScreen
from tests.tui.conftest import make_app, notifications, wait_until
from tests.tui.screen_text import screen_text, static_text

FILE = ("Email,First Name,Role,Internal,Birthday\n"
        "ada@example.org,Ada,Engineer,x1,05.03.1990\n"
        "not-an-email,Bob,Sales,x2,\n"
        "grace@example.org,Grace,Admiral,x3,24.12.1985\n"
        "ADA@example.org,Ada again,,x4,\n")


@pytest.fixture
async def users(agent: Agent) -> dict[str, int]:
    """Two users (the app offers them as the importing user): email -> id."""
    ids = {}
    async with RpcClient(agent.socket_path) as client:
        for email, name in (("mia@corp.example", "Mia Marketing"), ("sam@corp.example", "Sam Sales")):
            ids[email] = (await client.call("users.create", {"email": email, "name": name}))["id"]
    return ids


@pytest.fixture
def contacts_file(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(FILE, encoding="utf-8")
    return path


async def stored(agent: Agent) -> dict[str, dict[str, Any]]:
    """The agent's contacts by email."""
    async with RpcClient(agent.socket_path) as client:
        page = await client.call("contacts.list", {"limit": 500})
    return {c["email"]: c for c in page["contacts"]}


async def open_import(pilot: Pilot[Any], app: LeadsyncApp) -> ImportScreen:
    await wait_until(pilot, lambda: app.link.connected and bool(app.link.directory.users), what="the users")
    await pilot.press("i")
    await wait_until(pilot, lambda: isinstance(app.screen, ImportScreen), what="the import screen")
    assert isinstance(app.screen, ImportScreen)
    return app.screen


async def fill(pilot: Pilot[Any], screen: ImportScreen, path: Path, user_id: int) -> None:
    screen.query_one("#import-as", Select).value = user_id
    field = screen.query_one("#import-path", Input)
    field.focus()
    field.value = str(path)
    await pilot.pause()


async def finished(pilot: Pilot[Any], screen: ImportScreen, *, dry_run: bool) -> dict[str, Any]:
    await wait_until(pilot, lambda: screen.running is None and screen.last_answer is not None
                     and screen.last_answer["dry_run"] is dry_run, what="the answer")
    assert screen.last_answer is not None
    return screen.last_answer


def rows(screen: ImportScreen, table_id: str) -> list[tuple[str, ...]]:
    table = screen.query_one(table_id, DataTable)
    return [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]


def summary(screen: ImportScreen) -> str:
    return static_text(screen.query_one("#import-summary", Static))


async def choose_field(pilot: Pilot[Any], app: LeadsyncApp, screen: ImportScreen, column: str, option: str) -> None:
    """Highlight ``column`` in the plan, press enter, pick the option with id ``option``."""
    table = screen.query_one("#import-columns", DataTable)
    table.focus()
    table.move_cursor(row=[c.column for c in screen.plan].index(column))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ColumnFieldScreen), what="the field form")
    options = app.screen.query_one(OptionList)
    options.highlighted = [o.id for o in options.options].index(option)
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.screen is screen, what="the import screen again")


async def test_the_preview_shows_layout_plan_counts_and_problems_and_writes_nothing(
        agent: Agent, users: dict[str, int], contacts_file: Path) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot, app)
        await fill(pilot, screen, contacts_file, users["mia@corp.example"])
        await pilot.press("ctrl+r")
        answer = await finished(pilot, screen, dry_run=True)
        info = static_text(screen.query_one("#import-file-info", Static))
        assert info == "contacts.csv: encoding utf-8, delimiter ',', header on line 1"
        assert [r[:2] for r in rows(screen, "#import-columns")] == [
            ("Email", "email"), ("First Name", "first_name"), ("Role", "role"), ("Internal", "internal"),
            ("Birthday", "birthday")]
        assert "DRY RUN, nothing written: would be 4 rows: 2 created, 0 updated" in summary(screen)
        assert "1 failed" in summary(screen) and "Birthday: DMY" in summary(screen)
        problems = rows(screen, "#import-problems")
        assert [r[:4] for r in problems] == [("3", "failed", "Email", "not-an-email"),
                                             ("5", "duplicate", "Email", "ada@example.org")]
        assert "line 2 wins" in problems[1][4]
        assert "line 3 (failed), Email 'not-an-email': email:" in static_text(screen.query_one("#import-detail",
                                                                                                Static))
        assert answer["created"] == 2
        assert not screen.query_one("#import-run", Button).disabled
        assert await stored(agent) == {}


async def test_enter_in_the_path_previews_and_never_imports(
        agent: Agent, users: dict[str, int], contacts_file: Path) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot, app)
        await fill(pilot, screen, contacts_file, users["mia@corp.example"])
        await pilot.press("enter")
        await finished(pilot, screen, dry_run=True)
        await pilot.press("enter")  # again: still a preview
        await finished(pilot, screen, dry_run=True)
        assert await stored(agent) == {}


async def test_importing_before_a_preview_or_after_a_change_asks_for_a_preview(
        agent: Agent, users: dict[str, int], contacts_file: Path) -> None:
    app = make_app(agent.socket_path)
    seen: list[Any] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        screen = await open_import(pilot, app)
        await fill(pilot, screen, contacts_file, users["mia@corp.example"])
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: any("Preview first" in n for n in notifications(seen)), what="the refusal")
        await pilot.press("ctrl+r")
        await finished(pilot, screen, dry_run=True)
        screen.query_one("#import-dates", Select).value = "MDY"  # an option changed after the preview
        await pilot.pause()
        assert screen.query_one("#import-run", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert screen.running is None and screen.last_answer is not None and screen.last_answer["dry_run"]
        assert await stored(agent) == {}


async def test_remapping_and_skipping_columns_then_importing(
        agent: Agent, users: dict[str, int], contacts_file: Path) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot, app)
        await fill(pilot, screen, contacts_file, users["sam@corp.example"])
        await pilot.press("ctrl+r")
        await finished(pilot, screen, dry_run=True)

        await choose_field(pilot, app, screen, "Role", "job_title")
        await wait_until(pilot, lambda: ("Role", "job_title", "your choice") in rows(screen, "#import-columns"),
                         what="the new preview")
        await choose_field(pilot, app, screen, "Internal", "=skip")
        await wait_until(pilot, lambda: ("Internal", "not imported", "your choice") in rows(screen, "#import-columns"),
                         what="the new preview")
        assert screen.previewed is not None and screen.previewed.mapping() == {"Role": "job_title"}
        assert screen.previewed.skip() == ["Internal"]
        assert await stored(agent) == {}

        await pilot.press("ctrl+s")
        answer = await finished(pilot, screen, dry_run=False)
        assert answer["created"] == 2
        assert summary(screen).startswith("Imported: 4 rows: 2 created")
        contacts = await stored(agent)
        assert set(contacts) == {"ada@example.org", "grace@example.org"}
        ada = contacts["ada@example.org"]
        assert ada["job_title"] == "Engineer" and ada["created_by"] == users["sam@corp.example"]
        assert "internal" not in ada["fields"] and "role" not in ada["fields"]
        assert ada["fields"]["birthday"] == "1990-03-05"
        assert screen.query_one("#import-run", Button).disabled  # a second import needs a new preview


async def test_the_import_lists_each_lines_problems(agent: Agent, users: dict[str, int], tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("sep=;\nE-Mail;Vorname;Telefon;PLZ\nlin@example.org;Lin;4.41E+11;1067\n"
                    "nobody;Kim;;\nmo@example.org;Mo;;80331\n", encoding="cp1252")
    app = make_app(agent.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot, app)
        await fill(pilot, screen, path, users["mia@corp.example"])
        await pilot.press("ctrl+r")
        await finished(pilot, screen, dry_run=True)
        await pilot.press("ctrl+s")
        await finished(pilot, screen, dry_run=False)
        problems = {r[:4] for r in rows(screen, "#import-problems")}
        assert problems == {("1", "skipped", "—", "sep="), ("3", "review", "Telefon", "4.41E+11"),
                            ("3", "review", "PLZ", "1067"), ("4", "failed", "E-Mail", "nobody")}
        messages = {(r[0], r[2]): r[4] for r in rows(screen, "#import-problems")}
        assert "scientific notation" in messages[("3", "Telefon")]
        assert "leading zero" in messages[("3", "PLZ")]
        assert "is not a valid address" in messages[("4", "E-Mail")]
        assert set(await stored(agent)) == {"lin@example.org", "mo@example.org"}
        assert "Problems (4)" in screen_text(app)


async def test_a_refused_file_shows_its_columns_so_one_can_be_mapped_to_email(
        agent: Agent, users: dict[str, int], tmp_path: Path) -> None:
    path = tmp_path / "no-email.csv"
    path.write_text("Contact,Name\nzoe@example.org,Zoe\n", encoding="utf-8")
    app = make_app(agent.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot, app)
        await fill(pilot, screen, path, users["mia@corp.example"])
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: "Refused" in summary(screen), what="the refusal")
        assert "no email column" in summary(screen)
        assert [r[:2] for r in rows(screen, "#import-columns")] == [("Contact", "contact"), ("Name", "name")]
        assert screen.query_one("#import-run", Button).disabled
        await choose_field(pilot, app, screen, "Contact", "email")
        answer = await finished(pilot, screen, dry_run=True)
        assert answer["created"] == 1


async def test_the_import_screen_is_in_the_footer_and_the_command_palette(agent: Agent, users: dict[str, int]) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        for tab in ("1", "2", "3"):
            await pilot.press(tab)
            await wait_until(pilot, lambda: "i Import" in screen_text(app).splitlines()[-1],
                             what=f"i Import in the footer of tab {tab}")
        assert "Import contacts" in [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, ImportScreen), what="the import screen")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ImportScreen), what="the dashboard")


def test_path_completion_offers_folders_and_importable_files(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "hubspot.csv").write_text("")
    (tmp_path / "exports" / "notes.pdf").write_text("")
    (tmp_path / "exports" / "zoho.xlsx").write_text("")
    assert complete_path(f"{tmp_path}/exp") == f"{tmp_path}/exports/"
    assert complete_path(f"{tmp_path}/exports/") == f"{tmp_path}/exports/hubspot.csv"
    assert complete_path(f"{tmp_path}/exports/z") == f"{tmp_path}/exports/zoho.xlsx"
    assert complete_path(f"{tmp_path}/exports/n") is None
    assert complete_path(f"{tmp_path}/missing/x") is None
