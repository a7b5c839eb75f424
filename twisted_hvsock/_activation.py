"""
Socket activation: the listening descriptors a supervisor such as systemd
passed to this process (the ``sd_listen_fds`` protocol: ``LISTEN_PID`` names
the process, ``LISTEN_FDS`` counts the descriptors from 3 up,
``LISTEN_FDNAMES`` names them, colon-separated).
"""

from __future__ import annotations

import os

from twisted.python.systemd import ListenFDs

__all__ = ["inherited_listeners", "systemd_descriptor"]

_inherited: ListenFDs | None = None


def inherited_listeners() -> ListenFDs:
    """
    The descriptors this process inherited, read once, with the three
    variables unset afterwards as ``sd_listen_fds(1)`` unsets them (so that
    no child inherits them too).

    Importing ``twisted.internet.endpoints`` (which ``twistd`` and
    ``serverFromString`` users have done before any string is parsed) reads
    ``LISTEN_PID`` and ``LISTEN_FDS`` into ``_SystemdParser._sddaemon`` and
    deletes them from ``os.environ``; by the time a ``vsock:systemd=``
    string is parsed they are gone. So Twisted's capture is where they are
    found, unless the variables were set after that import, in which case
    they are read here. Twisted keeps the descriptors only when
    ``LISTEN_FDNAMES`` names each of them (systemd 227 and later always
    sets it); for a supervisor that sets no names, use ``fd=<n>``.
    """
    global _inherited
    if _inherited is None:
        own = ListenFDs.fromEnvironment()
        # Imported only now (it costs more than the whole package and loads
        # Twisted's TCP and TLS), after reading the variables: a first import
        # of it would take them.
        from twisted.internet.endpoints import _SystemdParser

        found = own if own.inheritedDescriptors() else _SystemdParser._sddaemon
        if found.inheritedDescriptors():
            os.environ.pop("LISTEN_FDNAMES", None)
        _inherited = found
    return _inherited


def systemd_descriptor(which: str, listeners: ListenFDs, name: str = "systemd") -> int:
    """
    The descriptor ``which`` names among ``listeners``: an index from 0 in
    the order passed (``0``), or a name from ``LISTEN_FDNAMES`` (``web``,
    systemd's ``FileDescriptorName=``).

    :raises ValueError: naming ``name``, what was inherited, and the
        accepted forms.
    """
    descriptors = listeners.inheritedDescriptors()
    names = listeners.inheritedNamedDescriptors()
    if not descriptors:
        raise ValueError(
            f"{name}={which}: this process inherited no listening descriptors "
            "(LISTEN_PID is not this process, or LISTEN_FDS or LISTEN_FDNAMES "
            "is missing); run it from a systemd .socket unit, or use fd=<n>"
        )
    text = which.strip()
    if text.isascii() and text.isdigit():
        index = int(text)
        if index < len(descriptors):
            return descriptors[index]
    elif text in names:
        return names[text]
    raise ValueError(
        f"{name} must be an index from 0 to {len(descriptors) - 1} or one of "
        f"the names {', '.join(sorted(names))}, got {which!r}"
    )
