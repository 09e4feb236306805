"""Core models: one module per aggregate."""

from crm.models.audit import AuditLog
from crm.models.customers import Customer, CustomerClaim
from crm.models.org import Branch, Outlet
from crm.models.plugins import BranchPlugin
from crm.models.users import User, UserSession

__all__ = ["AuditLog", "Branch", "Customer", "CustomerClaim", "BranchPlugin", "Outlet", "User", "UserSession"]
