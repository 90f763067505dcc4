"""One policy TOML file (:class:`PolicyFile`) and its array sections (``SECTIONS``)."""

from __future__ import annotations

from xinyong.policy.data_class import SensitiveClass
from xinyong.policy.schema.catalog import Action, Agency, Category, Measure
from xinyong.policy.schema.common import Strict
from xinyong.policy.schema.feeds import Feed, IdentifierException
from xinyong.policy.schema.lists import ListRule, Memorandum
from xinyong.policy.schema.preset import Document, Law, Preset
from xinyong.policy.schema.repair import Calendar, RepairRule
from xinyong.policy.schema.schemes import ProfileRule, Scheme


class PolicyFile(Strict):
    """The content of one policy TOML file."""

    preset: Preset | None = None
    law: tuple[Law, ...] = ()
    document: tuple[Document, ...] = ()
    agency: tuple[Agency, ...] = ()
    category: tuple[Category, ...] = ()
    action: tuple[Action, ...] = ()
    measure: tuple[Measure, ...] = ()
    list_rule: tuple[ListRule, ...] = ()
    memorandum: tuple[Memorandum, ...] = ()
    scheme: tuple[Scheme, ...] = ()
    profile_rule: tuple[ProfileRule, ...] = ()
    calendar: tuple[Calendar, ...] = ()
    feed: tuple[Feed, ...] = ()
    repair_rule: tuple[RepairRule, ...] = ()
    identifier_exception: tuple[IdentifierException, ...] = ()
    sensitive_class: tuple[SensitiveClass, ...] = ()


SECTIONS = tuple(n for n in PolicyFile.model_fields if n != "preset")
