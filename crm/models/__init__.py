"""Core models: one module per aggregate."""

from crm.models.activity import Activity, DailyLog, DailyLogEntry
from crm.models.audit import AuditLog
from crm.models.customers import Customer, CustomerClaim, CustomerProduct, FamilyMember
from crm.models.org import Branch, Outlet
from crm.models.plugins import BranchPlugin
from crm.models.users import User, UserSession
from crm.models.workdays import WorkdayCalendarDay

__all__ = ["Activity", "AuditLog", "DailyLog", "DailyLogEntry", "Branch", "Customer", "CustomerClaim", "CustomerProduct", "FamilyMember", "BranchPlugin", "Outlet", "User", "UserSession",
           "WorkdayCalendarDay"]
