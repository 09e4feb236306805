"""The plugin manager: discovery, per-branch enablement, settings, and the 404 gate (design §3)."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import logging
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pluggy
from flask import Blueprint, Flask, abort, g, has_app_context, has_request_context
from flask_login import current_user
from sqlalchemy import bindparam, select

from crm import hookspecs
from crm.contrib import Permission
from crm.extensions import db
from crm.models import Branch, BranchPlugin

log = logging.getLogger(__name__)

# Which plugins are on is read on every page (the menu asks): plain columns from statements built once cost a
# third of BranchPlugin objects loaded through a statement built per call.
_STATE_COLUMNS = (BranchPlugin.branch_id, BranchPlugin.plugin, BranchPlugin.enabled, BranchPlugin.settings)
_GLOBAL_ROWS = select(*_STATE_COLUMNS).where(BranchPlugin.branch_id.is_(None))
_BRANCH_ROWS = select(*_STATE_COLUMNS).where(
    BranchPlugin.branch_id.is_(None) | (BranchPlugin.branch_id == bindparam("branch_id")))

BUILTIN_PACKAGE = "plugins"
ENTRY_POINT_GROUP = "crm.plugins"
PER_REQUEST_HOOKS = (
    "crm_nav_items", "crm_customer_panels", "crm_dashboard_widgets", "crm_customer_saved",
    "crm_customers_imported",
)


class PluginSettingsError(ValueError):
    """A setting key the plugin does not declare, or a value of the wrong type."""


@dataclass
class PluginInfo:
    name: str
    label: str
    description: str
    version: str
    obj: Any
    source: str  # builtin | config | entrypoint
    default_enabled: bool = False
    default_branch_settings: dict[str, Any] = field(default_factory=dict)
    blueprints: list[str] = field(default_factory=list)

    @property
    def url_prefix(self) -> str:
        return "/p/" + self.name.replace("_", "-")


def _plugin_object(target: Any) -> Any:
    """A plugin module exposes `plugin`; a class is instantiated; an instance is used as is."""
    if hasattr(target, "plugin") and not isinstance(target, type):
        target = target.plugin
    if isinstance(target, type):
        target = target()
    return target


class PluginRegistry:
    """Everything plugins contributed at start-up, plus the per-branch state lookups. One per app."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("crm")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.blueprint_plugin: dict[str, str] = {}
        self.permissions: dict[str, Permission] = {}
        self.post_permissions: dict[str, frozenset[str]] = {}
        self.segment_rules: list[tuple[str, Any]] = []
        self.pdf_documents: list[tuple[str, Any]] = []
        self.audit_labels: dict[str, Any] = {}
        self.migration_dirs: list[str] = []
        self._subset_callers: dict[tuple[str, frozenset[str]], Any] = {}

    # ------------------------------------------------------------ start-up

    def load(self, app: Flask) -> None:
        from crm.core_plugin import CorePlugin

        self.pm.register(CorePlugin(), name="core")
        for module_name in self._configured_modules(app):
            self._install(importlib.import_module(module_name), "config" if app.config.get("CRM_PLUGINS") else "builtin")
        for ep in _entry_points():
            if ep.name in self.plugins:
                continue
            self._install(ep.load(), "entrypoint")
        # A misspelled hook name fails here, at start-up, not silently at run time.
        self.pm.check_pending()
        self._register_blueprints(app)
        self._collect_permissions()
        self.segment_rules = self._collect("crm_register_segment_rules")
        self.pdf_documents = self._collect("crm_register_pdf_documents")
        self.audit_labels = dict(item for _, item in self._collect("crm_register_audit_labels"))
        self.migration_dirs = [d for _, d in self._call_each("crm_migration_dirs") if d]

    @staticmethod
    def _configured_modules(app: Flask) -> list[str]:
        configured = app.config.get("CRM_PLUGINS")
        if configured is not None:
            if isinstance(configured, str):
                configured = [m.strip() for m in configured.split(",")]
            return [m for m in configured if m]
        try:
            package = importlib.import_module(BUILTIN_PACKAGE)
        except ImportError:
            return []
        return [f"{BUILTIN_PACKAGE}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if m.ispkg]

    def _install(self, target: Any, source: str) -> None:
        obj = _plugin_object(target)
        name = getattr(obj, "name", None)
        if not name or not name.isidentifier() or name == "core":
            raise RuntimeError(f"plugin {target!r} needs a `name` that is a Python identifier (and not 'core')")
        if name in self.plugins:
            raise RuntimeError(f"two plugins are named {name!r}")
        self.pm.register(obj, name=name)
        self.plugins[name] = PluginInfo(
            name=name,
            label=str(getattr(obj, "label", name)),
            description=str(getattr(obj, "description", "")),
            version=str(getattr(obj, "version", "")),
            obj=obj,
            source=source,
            default_enabled=bool(getattr(obj, "default_enabled", False)),
            default_branch_settings=dict(getattr(obj, "default_branch_settings", {}) or {}),
        )

    def _call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a hook implementation by implementation, keeping which plugin returned what."""
        results = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            args = [kwargs[a] for a in impl.argnames]
            results.append((impl.plugin_name, impl.function(*args)))
        return results

    def _collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        return [(name, item) for name, items in self._call_each(hook_name, **kwargs) for item in (items or ())]

    def _register_blueprints(self, app: Flask) -> None:
        for plugin_name, blueprints in self._call_each("crm_register_blueprints", app=app):
            info = self.plugins.get(plugin_name)
            for bp in blueprints or ():
                if not isinstance(bp, Blueprint):
                    raise TypeError(f"{plugin_name}: crm_register_blueprints must return Blueprints")
                prefix = info.url_prefix if info else None
                app.register_blueprint(bp, url_prefix=bp.url_prefix or prefix)
                if info is not None:
                    self.blueprint_plugin[bp.name] = plugin_name
                    info.blueprints.append(bp.name)
                    # Mounted always, gated always: off for the user's 分行 → 404.
                    app.before_request_funcs.setdefault(bp.name, []).insert(0, _make_gate(plugin_name))

    def _collect_permissions(self) -> None:
        from crm.access import CORE_PERMISSIONS, build_permission_table

        extra: list[Permission] = []
        for plugin_name, perm in self._collect("crm_register_permissions"):
            if plugin_name != "core" and not perm.name.startswith(plugin_name + "."):
                raise RuntimeError(f"permission {perm.name!r} of plugin {plugin_name!r} must start with '{plugin_name}.'")
            extra.append(perm)
        self.permissions = {p.name: p for p in (*CORE_PERMISSIONS, *extra)}
        self.post_permissions = build_permission_table(extra)

    # ------------------------------------------------------------ per-branch state

    def _rows(self, branch_id: int | None) -> dict[tuple[int | None, str], Any]:
        """(branch_id, plugin) → the row's branch_id, plugin, enabled and settings."""
        if not self.plugins:
            return {}  # core alone: nothing to look up
        stmt, params = (_GLOBAL_ROWS, None) if branch_id is None else (_BRANCH_ROWS, {"branch_id": branch_id})
        return {(r.branch_id, r.plugin): r for r in db.session.execute(stmt, params)}

    def state(self, branch_id: int | None) -> dict[str, bool]:
        """Enabled flag of every installed plugin for a 分行 (None: the global defaults)."""
        rows = self._rows(branch_id)
        branch = None
        result = {}
        for name, info in self.plugins.items():
            own = rows.get((branch_id, name)) if branch_id is not None else None
            glob = rows.get((None, name))
            if own is not None and own.enabled is not None:
                enabled = own.enabled
            elif glob is not None and glob.enabled is not None:
                enabled = glob.enabled
            else:
                enabled = info.default_enabled
            if enabled and self.has_vetoes and branch is None and branch_id is not None:
                branch = db.session.get(Branch, branch_id)  # loaded only when a veto has to be asked
            result[name] = enabled and (not self.has_vetoes or self.available(name, branch))
        return result

    @property
    def has_vetoes(self) -> bool:
        return bool(self.pm.hook.crm_plugin_available.get_hookimpls())

    def available(self, plugin_name: str, branch: Branch | None) -> bool:
        """Design §3.1: a plugin is available unless some plugin vetoes it (any False wins)."""
        votes = self.pm.hook.crm_plugin_available(plugin_name=plugin_name, branch=branch)
        return all(v is not False for v in votes)

    def enabled_names(self, branch_id: int | None) -> frozenset[str]:
        if has_request_context():
            cache = g.setdefault("crm_enabled", {})
            if branch_id not in cache:
                cache[branch_id] = frozenset(n for n, on in self.state(branch_id).items() if on)
            return cache[branch_id]
        return frozenset(n for n, on in self.state(branch_id).items() if on)

    def enabled_for(self, user: Any) -> frozenset[str]:
        if not getattr(user, "is_authenticated", False):
            return frozenset()
        return self.enabled_names(user.root_branch_id)

    def set_enabled(self, plugin_name: str, branch_id: int | None, enabled: bool | None, actor_id: int | None) -> None:
        """Switch a plugin for a 分行 (or globally). `None` makes the 分行 follow the global row again."""
        if plugin_name not in self.plugins:
            raise KeyError(plugin_name)
        if enabled is None and branch_id is None:
            raise PluginSettingsError("全行默认必须明确启用或停用")
        if enabled and branch_id is not None and not self.available(plugin_name, db.session.get(Branch, branch_id)):
            raise PluginSettingsError("该插件对此分行不可用")
        row = self._row(plugin_name, branch_id)
        row.enabled = enabled
        row.updated_by_id = actor_id
        if has_app_context():  # `g` lives in the app context: a CLI or test context caches too
            g.pop("crm_enabled", None)

    def explicit(self, branch_ids: list[int]) -> dict[tuple[str, int], bool]:
        """(plugin, 分行) pairs that have their own switch rather than following the global row."""
        if not branch_ids:
            return {}
        rows = db.session.execute(select(BranchPlugin.plugin, BranchPlugin.branch_id, BranchPlugin.enabled).where(
            BranchPlugin.branch_id.in_(branch_ids), BranchPlugin.enabled.is_not(None))).all()
        return {(r.plugin, r.branch_id): r.enabled for r in rows}

    def _row(self, plugin_name: str, branch_id: int | None) -> BranchPlugin:
        row = db.session.execute(
            select(BranchPlugin).where(
                BranchPlugin.plugin == plugin_name,
                BranchPlugin.branch_id.is_(None) if branch_id is None else BranchPlugin.branch_id == branch_id,
            )
        ).scalar_one_or_none()
        if row is None:
            row = BranchPlugin(plugin=plugin_name, branch_id=branch_id, enabled=None, settings={})
            db.session.add(row)
        return row

    # ------------------------------------------------------------ settings

    def settings(self, plugin_name: str, branch_id: int | None) -> dict[str, Any]:
        """Resolve branch row → global row → the plugin's defaults. Unknown stored keys are an error."""
        info = self.plugins[plugin_name]
        resolved = dict(info.default_branch_settings)
        rows = self._rows(branch_id)
        for key in ((None, plugin_name), (branch_id, plugin_name)) if branch_id is not None else ((None, plugin_name),):
            row = rows.get(key)
            if row is not None and row.settings:
                unknown = set(row.settings) - set(resolved)
                if unknown:
                    raise PluginSettingsError(f"{plugin_name}: unknown setting(s) {', '.join(sorted(unknown))}")
                resolved.update(row.settings)
        defaults = info.default_branch_settings
        # JSON keeps Decimals as strings: hand them back as Decimals, like the defaults.
        return {k: Decimal(v) if isinstance(defaults.get(k), Decimal) and isinstance(v, str) else v
                for k, v in resolved.items()}

    def set_settings(self, plugin_name: str, branch_id: int | None, values: dict[str, Any],
                     actor_id: int | None) -> dict[str, Any]:
        """Store settings for a branch (or globally). Unknown keys are rejected; values take the default's type."""
        info = self.plugins[plugin_name]
        defaults = info.default_branch_settings
        unknown = set(values) - set(defaults)
        if unknown:
            raise PluginSettingsError(f"未知的设置项：{', '.join(sorted(unknown))}")
        clean = {key: coerce_setting(key, defaults[key], raw) for key, raw in values.items()}
        row = self._row(plugin_name, branch_id)
        row.settings = {**(row.settings or {}), **clean}
        row.updated_by_id = actor_id
        return clean

    # ------------------------------------------------------------ per-request hooks

    def hook(self, name: str, user: Any = None) -> Any:
        """A hook caller limited to core and the plugins enabled for the user's 分行."""
        if name not in PER_REQUEST_HOOKS:
            raise ValueError(f"{name} is not a per-request hook")
        user = user if user is not None else (current_user if has_request_context() else None)
        enabled = self.enabled_for(user) if user is not None else frozenset()
        return self.hook_for_names(name, enabled)

    def hook_for_names(self, name: str, enabled: frozenset[str]) -> Any:
        disabled = frozenset(n for n in self.plugins if n not in enabled)
        key = (name, disabled)
        if key not in self._subset_callers:
            self._subset_callers[key] = self.pm.subset_hook_caller(
                name, remove_plugins=[self.plugins[n].obj for n in disabled]
            )
        return self._subset_callers[key]

    def gather(self, name: str, **kwargs: Any) -> list[Any]:
        """Call a per-request hook for the plugins enabled for kwargs['user'] (default: the current user),
        flatten the lists, sort by weight (pluggy's call order is not meaningful)."""
        results = self.hook(name, kwargs.get("user"))(**kwargs)
        items = [item for result in results for item in (result or ())]
        return sorted(items, key=lambda i: (getattr(i, "weight", 100), str(getattr(i, "key", getattr(i, "label", "")))))

    def segment_rules_for(self, enabled: Iterable[str]) -> list[Any]:
        allowed = set(enabled) | {"core"}
        return [rule for plugin, rule in self.segment_rules if plugin in allowed]

    def pdf_documents_for(self, enabled: Iterable[str]) -> list[Any]:
        allowed = set(enabled) | {"core"}
        return [doc for plugin, doc in self.pdf_documents if plugin in allowed]


def coerce_setting(key: str, default: Any, raw: Any) -> Any:
    """Give a submitted value the type of the setting's default (forms send strings)."""
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in ("1", "true", "on", "yes", "是", "0", "false", "off", "no", "否", ""):
                raise ValueError(text)
            return text in ("1", "true", "on", "yes", "是")
        if isinstance(default, int):
            return int(str(raw).strip())
        if isinstance(default, Decimal | float):
            value = Decimal(str(raw).strip().replace(",", ""))
            if not value.is_finite():
                raise InvalidOperation
            return str(value)  # stored as text in JSON: exact, never a float
        if isinstance(default, list | dict):
            if not isinstance(raw, type(default)):
                raise PluginSettingsError(f"设置项 {key} 的格式不正确")
            return raw
        return str(raw).strip()
    except (ValueError, InvalidOperation) as exc:
        raise PluginSettingsError(f"设置项 {key} 的值“{raw}”无效") from exc


def _make_gate(plugin_name: str):
    def gate() -> None:
        from flask import current_app

        registry: PluginRegistry = current_app.extensions["crm"]
        if plugin_name not in registry.enabled_for(current_user):
            abort(404)

    gate.__name__ = f"gate_{plugin_name}"
    return gate


@functools.cache
def _entry_points() -> tuple[importlib.metadata.EntryPoint, ...]:
    """Installed packages' plugins, read once per process: scanning every installed distribution's metadata takes
    ~25 ms, and a newly installed package needs a restart anyway (blueprints and models are registered at start)."""
    return tuple(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def create_registry(app: Flask) -> PluginRegistry:
    registry = PluginRegistry()
    app.extensions["crm"] = registry
    registry.load(app)
    return registry
