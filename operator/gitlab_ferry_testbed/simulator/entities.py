"""GitLab's API entities for the simulated records (the JSON bodies clients parse).

Part of the simulator layer: ProjectIdentity, ProjectExportStatus, ProjectImportStatus (with
failed relations), RelationImportTracker, and subsets of Project (with ProjectStatistics on
request), Namespace and User with GitLab's key names and types. Pure functions of the state; they
must not change it and must not import anything outside the simulator.
"""

from __future__ import annotations

from typing import Any

from gitlab_ferry_testbed.simulator.auth import (
    can_admin_project,
    can_read_import_error,
    can_read_statistics,
)
from gitlab_ferry_testbed.simulator.core import Core
from gitlab_ferry_testbed.simulator.errors import iso
from gitlab_ferry_testbed.simulator.state import Namespace, Project, RelationTracker, User

FAILED_RELATIONS_LIMIT = 100
IMPORT_ERROR_HIDDEN = "Ask a maintainer to check the import status for more details."


def project_identity(core: Core, project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "description": project.description,
        "name": project.name,
        "name_with_namespace": core.state.name_with_namespace(project),
        "path": project.path,
        "path_with_namespace": core.state.full_path(project),
        "created_at": iso(project.created_at),
    }


def export_status_entity(core: Core, project: Project, status: str) -> dict[str, Any]:
    body = project_identity(core, project)
    body["export_status"] = status
    if status == "finished":
        base = core.public_url
        body["_links"] = {
            "api_url": f"{base}/api/v4/projects/{project.id}/export/download",
            "web_url": f"{base}/{core.state.full_path(project)}/download_export",
        }
    return body


def import_status_entity(core: Core, project: Project, user: User | None) -> dict[str, Any]:
    job = project.import_job
    body = project_identity(core, project)
    correlation_id = job.correlation_id if job else None
    failures = sorted(
        (
            f
            for f in core.state.import_failures
            if f.project_id == project.id and correlation_id and f.correlation_id == correlation_id
        ),
        key=lambda f: (f.created_at, f.id),
        reverse=True,
    )[:FAILED_RELATIONS_LIMIT]
    import_error = job.last_error if job else None
    if import_error is not None and user is None:
        import_error = None
    elif import_error is not None and not can_read_import_error(core.state, user, project):
        import_error = IMPORT_ERROR_HIDDEN
    body.update(
        {
            "import_status": job.status if job else "none",
            "import_type": job.import_type if job else None,
            "correlation_id": correlation_id,
            "failed_relations": [
                {
                    "id": f.id,
                    "created_at": iso(f.created_at),
                    "exception_class": f.exception_class,
                    "exception_message": None,
                    "source": f.source,
                    "relation_name": f.relation_name,
                    "line_number": f.line_number,
                }
                for f in failures
            ],
            "import_error": import_error,
            "stats": None,
        }
    )
    return body


def tracker_entity(core: Core, tracker: RelationTracker) -> dict[str, Any]:
    project = core.state.projects.get(tracker.project_id)
    return {
        "id": tracker.id,
        "project_path": core.state.full_path(project) if project else None,
        "relation": tracker.relation,
        "status": tracker.status,
        "created_at": iso(tracker.created_at),
        "updated_at": iso(tracker.updated_at),
    }


def namespace_entity(core: Core, ns: Namespace) -> dict[str, Any]:
    base = core.public_url
    web = f"{base}/groups/{ns.full_path}" if ns.kind == "group" else f"{base}/{ns.full_path}"
    return {
        "id": ns.id,
        "name": ns.name,
        "path": ns.path,
        "kind": ns.kind,
        "full_path": ns.full_path,
        "parent_id": ns.parent_id,
        "avatar_url": None,
        "web_url": web,
    }


def project_entity(
    core: Core,
    project: Project,
    user: User | None,
    *,
    simple: bool = False,
    statistics: bool = False,
) -> dict[str, Any]:
    base = core.public_url
    full_path = core.state.full_path(project)
    ns = core.state.namespaces[project.namespace_id]
    host = base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    body = project_identity(core, project)
    # topics are sorted by name; tag_list is their old name, still sent in API v4
    topics = sorted(str(t) for t in project.attributes.get("topics", []) or [])
    body.update(
        {
            "default_branch": "main" if project.content.repository.size else None,
            "tag_list": topics,
            "topics": topics,
            "ssh_url_to_repo": f"git@{host}:{full_path}.git",
            "http_url_to_repo": f"{base}/{full_path}.git",
            "web_url": f"{base}/{full_path}",
            "readme_url": None,
            "forks_count": 0,
            "avatar_url": None,
            "star_count": 0,
            "last_activity_at": iso(project.last_activity_at or project.created_at),
            "namespace": namespace_entity(core, ns),
        }
    )
    if not core.settings.profile.project_topics:
        del body["topics"]
    if simple:
        return body
    job = project.import_job
    body.update(
        {
            "visibility": project.visibility,
            "empty_repo": project.content.repository.size == 0,
            "archived": bool(project.attributes.get("archived", False)),
            "creator_id": project.creator_id,
            "import_status": job.status if job else "none",
            "import_type": job.import_type if job else None,
            "open_issues_count": len(project.content.relations.get("issues", [])),
        }
    )
    if can_admin_project(core.state, user, project):
        body["import_error"] = job.last_error if job else None
    if user is not None:
        member = project.members.get(user.id)
        group_level = core.state.group_access(user, ns)
        body["permissions"] = {
            "project_access": {"access_level": member, "notification_level": 3} if member else None,
            "group_access": {"access_level": group_level, "notification_level": 3}
            if ns.kind == "group" and group_level
            else None,
        }
    if statistics and can_read_statistics(core.state, user, project):
        stats = project.statistics()
        if not core.settings.profile.statistics_container_registry_size:
            del stats["container_registry_size"]
        body["statistics"] = stats
    return body


def user_entity(core: Core, user: User) -> dict[str, Any]:
    base = core.public_url
    body: dict[str, Any] = {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": "active",
        "locked": False,
        "avatar_url": None,
        "web_url": f"{base}/{user.username}",
        "created_at": iso(user.created_at),
        "bio": "",
        "public_email": None,
        "bot": False,
        "email": user.email,
        "projects_limit": 100000,
        "can_create_group": True,
        "can_create_project": True,
        "two_factor_enabled": False,
        "external": user.external,
        "private_profile": False,
        "namespace_id": user.namespace_id,
    }
    if user.admin:
        body["is_admin"] = True
    return body
