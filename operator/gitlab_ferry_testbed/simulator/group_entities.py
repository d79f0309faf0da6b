"""GitLab's group entities: ``Entities::Group`` (listings) and ``Entities::GroupDetail``
(``GET /groups/:id``, ``POST /groups``).

Part of the simulator layer. A subset of GitLab's keys with GitLab's names and types: what a
client of the groups API reads (id, name, path, full_path, full_name, parent_id, visibility,
web_url, description, created_at ...). GroupDetail adds ``shared_with_groups``, the
``runners_token`` for those who may administer the group and, unless ``with_projects=false``,
the group's own projects (not its subgroups'; at most 100) and ``shared_projects``. Pure
functions of the state; they must not import anything outside the simulator.
"""

from __future__ import annotations

import zlib
from typing import Any

from gitlab_ferry_testbed.simulator.auth import can_admin_namespace, can_read_project
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.entities import project_entity
from gitlab_ferry_testbed.simulator.errors import iso
from gitlab_ferry_testbed.simulator.state import Namespace, User

DETAIL_PROJECTS_LIMIT = 100


def group_entity(core: Core, ns: Namespace) -> dict[str, Any]:
    return {
        "id": ns.id,
        "web_url": f"{core.public_url}/groups/{ns.full_path}",
        "name": ns.name,
        "path": ns.path,
        "description": ns.description,
        "visibility": ns.visibility,
        "share_with_group_lock": False,
        "require_two_factor_authentication": False,
        "two_factor_grace_period": 48,
        "project_creation_level": "developer",
        "auto_devops_enabled": None,
        "subgroup_creation_level": "maintainer",
        "emails_disabled": False,
        "mentions_disabled": None,
        "lfs_enabled": True,
        "default_branch_protection": 2,
        "avatar_url": None,
        "request_access_enabled": True,
        "full_name": core.state.human_name(ns),
        "full_path": ns.full_path,
        "created_at": iso(ns.created_at),
        "parent_id": ns.parent_id,
    }


def group_detail_entity(
    core: Core, ns: Namespace, user: User | None, *, with_projects: bool
) -> dict[str, Any]:
    body = group_entity(core, ns)
    body["shared_with_groups"] = []
    if user is not None and can_admin_namespace(core.state, user, ns):
        body["runners_token"] = f"GR1348941{zlib.crc32(ns.full_path.encode()):08x}"
    if with_projects:
        own = [
            p
            for p in core.state.live_projects()
            if p.namespace_id == ns.id and can_read_project(core.state, user, p)
        ]
        own.sort(key=lambda p: p.id)
        body["projects"] = [project_entity(core, p, user) for p in own[:DETAIL_PROJECTS_LIMIT]]
        body["shared_projects"] = []
    return body
