"""The platform service layer: who may do what (one authorization table, enforced here and
nowhere else), every access audited, then the core. The HTTP API and the CLI are thin on top."""

from xinyong.service.core import Forbidden, Invalid, NotFound, Principal, Service, Unauthorized
from xinyong.service.users import ROLES, add_user, authenticate

__all__ = ["ROLES", "Forbidden", "Invalid", "NotFound", "Principal", "Service", "Unauthorized",
           "add_user", "authenticate"]
