"""The example plugin's one table (named example_*, as every plugin table must be)."""

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.access import ScopeSpec, register_scope
from crm.extensions import db


class ExampleNote(db.Model):
    __tablename__ = "example_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"), index=True)
    text: Mapped[str] = mapped_column(String(200))


register_scope(ExampleNote, ScopeSpec(outlet=ExampleNote.outlet_id))
