"""``todos.*``: to-dos, which share a contact to the assignee and make them its CRM owner."""

from __future__ import annotations

from typing import Any

from leadsync.agent import pushes, todos
from leadsync.agent.api.registry import ApiContext, Params, method
from leadsync.common.answers import Todo


class TodosAssign(Params):
    contact_id: int
    assignee: int | str
    title: str
    due: str | None = None
    created_by: int | str | None = None


class TodosList(Params):
    assignee: int | None = None
    contact_id: int | None = None


@method("todos.assign", TodosAssign)
async def todos_assign(ctx: ApiContext, p: TodosAssign) -> dict[str, Any]:
    """Assign a to-do: shares the contact to the assignee and pushes it with the assignee as CRM owner."""
    todo = await todos.assign_todo(ctx.store, p.contact_id, p.assignee, p.title, p.due, p.created_by)
    ctx.agent.emit({"type": "contact_changed", "contact_id": p.contact_id, "change": "todo_assigned"})
    push = await pushes.push_todo_owner(ctx.agent, p.contact_id, p.assignee)
    answer: dict[str, Any] = {"todo": todo, "run": push.run, "pushed": push.pushed}
    if push.note is not None:
        answer["note"] = push.note
    return answer


@method("todos.list", TodosList)
async def todos_list(ctx: ApiContext, p: TodosList) -> list[Todo]:
    """To-dos, by assignee and/or contact."""
    return await todos.list_todos(ctx.store, assignee=p.assignee, contact_id=p.contact_id)
