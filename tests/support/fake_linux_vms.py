"""
Stand-ins for ``virsh`` (libvirt) and ``machinectl`` (systemd-machined),
put on ``PATH`` by the tests of :mod:`twisted_hvsock.linux_vm_names`.

Each is a script that answers from a JSON state file, prints what the real
tool prints for the commands the lookups use, and logs every call (its
arguments, whether stdin was ``/dev/null``, its ``LC_ALL``, its process
ID). Where the
formats come from:

- ``virsh``: libvirt's ``tools/vsh.c`` (options as ``--name=value`` or
  ``--name value``, ``--`` ending them; ``error: `` before each error on
  stderr; an empty line on stdout after each command, which ``--quiet``
  drops; exit status 1 on failure), ``tools/virsh-util.c`` (``failed to get
  domain '<name>'``, looked up by ID, then UUID, then name), ``virsh(1)``
  for ``dumpxml`` and ``list --all --name``, and libvirt's domain XML
  (``docs/formatdomain.rst``; ``<domain type='kvm' id='5'>`` only while
  running, the ``<vsock>`` device's ``<cid auto='yes' address='3'/>``,
  without ``address`` while an automatic CID is not assigned, as
  ``tests/qemuxmlconfdata/vhost-vsock-auto.x86_64-latest.xml`` shows).
- ``machinectl``: systemd's ``src/machine/machinectl.c`` (``Could not get
  path to machine: <error>``, exit status 1; ``list`` as a table of
  MACHINE, CLASS, SERVICE, OS, VERSION and ADDRESSES sorted by name, ``-``
  for an empty cell, no header nor footer with ``--no-legend``),
  ``machined-dbus.c`` (``No machine '<name>' known``), ``machine-dbus.c``
  and ``machine.c`` (``VSockCID``, a ``u`` that is 4294967295,
  ``VMADDR_CID_ANY``, unless the VMM registered a CID; systemd 256 and
  later) and ``shared/bus-print-properties.c`` (``--value`` prints the
  value alone, in decimal).
"""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

#: What a real virsh prints when libvirt's daemon is not running.
NO_DAEMON = (
    "error: failed to connect to the hypervisor\n"
    "error: Failed to connect socket to '/var/run/libvirt/virtqemud-sock': "
    "No such file or directory\n"
)
#: What a real machinectl prints when there is no system bus.
NO_BUS = (
    "Failed to connect to system scope bus via local transport: "
    "No such file or directory\n"
)

_FAKE_VIRSH = textwrap.dedent(
    """\
    #!{python}
    # Plays libvirt's virsh for twisted-hvsock's tests: the domains of each
    # connection come from {state}; each call is logged there too.
    import json, os, sys, time
    from xml.sax.saxutils import escape

    state_path = {state!r}
    with open(state_path) as f:
        state = json.load(f)
    state["calls"].append({{
        "pid": os.getpid(),
        "argv": sys.argv[1:],
        "stdin_is_devnull": os.path.samestat(os.fstat(0), os.stat(os.devnull)),
        "LC_ALL": os.environ.get("LC_ALL"),
    }})
    with open(state_path, "w") as f:
        json.dump(state, f)

    args = sys.argv[1:]
    uri = os.environ.get("LIBVIRT_DEFAULT_URI") or (
        "qemu:///system" if os.geteuid() == 0 else "qemu:///session"
    )
    quiet = False
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option in ("-r", "--readonly"):
            continue
        if option in ("-q", "--quiet"):
            quiet = True
        elif option in ("-c", "--connect"):
            uri = args.pop(0)
        elif option.startswith("--connect="):
            uri = option.partition("=")[2]
        else:
            sys.exit("this stand-in does not play virsh " + option)
    if state["mode"] == "hang":
        time.sleep(3600)
    if state["mode"] == "no_daemon":
        sys.stderr.write({no_daemon!r})
        sys.exit(1)

    def done(ok):
        if not quiet:
            sys.stdout.write("\\n")
        sys.exit(0 if ok else 1)

    def error(message):
        sys.stdout.flush()
        sys.stderr.write("error: " + message + "\\n")

    def parse(words, options, flags):
        # As vsh.c: --name=value or --name value, "--" ends the options,
        # positional values fill the options in their order.
        values, data_only = {{}}, False
        while words:
            word = words.pop(0)
            if not data_only and word == "--":
                data_only = True
            elif not data_only and word.startswith("--") and word[2:3].isalnum():
                name, equals, value = word[2:].partition("=")
                if name in flags:
                    values[name] = True
                elif name in options:
                    values[name] = value if equals else words.pop(0)
                else:
                    error("command doesn't support option --" + name)
                    sys.exit(1)
            else:
                name = next(n for n in options if n not in values)
                values[name] = word
        return values

    domains = state["domains"].get(uri, [])
    command = args.pop(0)
    if command == "dumpxml":
        given = parse(args, ["domain"], ["inactive"])["domain"]
        found = [d for d in domains if given.isdigit() and d["id"] == int(given)]
        found += [d for d in domains if d["uuid"] == given]
        found += [d for d in domains if d["name"] == given]
        if not found:
            error("failed to get domain '" + given + "'")
            done(False)
        domain = found[0]
        running = domain["id"] is not None
        opening = "<domain type='kvm'"
        if running:
            opening += " id='" + str(domain["id"]) + "'"
        lines = [
            opening + ">",
            "  <name>" + escape(domain["name"], {{"'": "&apos;", '"': "&quot;"}})
            + "</name>",
            "  <uuid>" + domain["uuid"] + "</uuid>",
            "  <memory unit='KiB'>1048576</memory>",
            "  <currentMemory unit='KiB'>1048576</currentMemory>",
            "  <vcpu placement='static'>1</vcpu>",
            "  <os>",
            "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>",
            "    <boot dev='hd'/>",
            "  </os>",
            "  <devices>",
            "    <emulator>/usr/bin/qemu-system-x86_64</emulator>",
        ]
        if domain["vsock"] is not None:
            if domain["vsock"] == "static":
                cid = "<cid auto='no' address='" + str(domain["cid"]) + "'/>"
            elif running:
                cid = "<cid auto='yes' address='" + str(domain["cid"]) + "'/>"
            else:
                cid = "<cid auto='yes'/>"
            lines += ["    <vsock model='virtio'>", "      " + cid]
            if running:
                lines.append("      <alias name='vsock0'/>")
            lines += [
                "      <address type='pci' domain='0x0000' bus='0x07' "
                "slot='0x00' function='0x0'/>",
                "    </vsock>",
            ]
        lines += ["  </devices>", "</domain>"]
        sys.stdout.write("\\n".join(lines) + "\\n")
        done(True)
    if command == "list":
        flags = parse(args, [], ["all", "name", "inactive"])
        if set(flags) != {{"all", "name"}}:
            sys.exit("this stand-in plays only virsh list --all --name")
        active = sorted((d for d in domains if d["id"] is not None),
                        key=lambda d: d["id"])
        inactive = sorted((d for d in domains if d["id"] is None),
                          key=lambda d: d["name"].lower())
        for domain in active + inactive:
            sys.stdout.write(domain["name"] + "\\n")
        done(True)
    sys.exit("this stand-in does not play virsh " + command)
    """
)

_FAKE_MACHINECTL = textwrap.dedent(
    """\
    #!{python}
    # Plays systemd's machinectl for twisted-hvsock's tests: the running
    # machines come from {state}; each call is logged there too.
    import json, os, sys, time

    state_path = {state!r}
    with open(state_path) as f:
        state = json.load(f)
    state["calls"].append({{
        "pid": os.getpid(),
        "argv": sys.argv[1:],
        "stdin_is_devnull": os.path.samestat(os.fstat(0), os.stat(os.devnull)),
        "LC_ALL": os.environ.get("LC_ALL"),
    }})
    with open(state_path, "w") as f:
        json.dump(state, f)

    # As getopt_long: options anywhere before "--", the rest in order.
    words, options, properties = sys.argv[1:], set(), []
    positional = []
    while words:
        word = words.pop(0)
        if word == "--":
            positional += words
            break
        if word.startswith("--property="):
            properties.append(word.partition("=")[2])
        elif word in ("-p", "--property"):
            properties.append(words.pop(0))
        elif word.startswith("-"):
            options.add(word)
        else:
            positional.append(word)
    if not options <= {{"--no-pager", "--no-legend", "--value"}}:
        sys.exit("this stand-in does not play machinectl " + " ".join(options))
    if state["mode"] == "hang":
        time.sleep(3600)
    if state["mode"] == "no_bus":
        sys.stderr.write({no_bus!r})
        sys.exit(1)
    verb, names = positional[0], positional[1:]
    machines = {{m["name"]: m for m in state["machines"]}}
    if verb == "show":
        if properties != ["VSockCID"] or len(names) != 1:
            sys.exit("this stand-in plays only show --property=VSockCID NAME")
        machine = machines.get(names[0])
        if machine is None:
            sys.stderr.write(
                "Could not get path to machine: No machine '" + names[0]
                + "' known\\n"
            )
            sys.exit(1)
        if state["systemd"] < 256:
            sys.exit(0)  # no such property: nothing to print
        cid = machine["cid"] if machine["cid"] is not None else 4294967295
        prefix = "" if "--value" in options else "VSockCID="
        sys.stdout.write(prefix + str(cid) + "\\n")
        sys.exit(0)
    if verb == "list":
        rows = [
            [m["name"], m["class"], m["service"] or "-", "-", "-", "-"]
            for m in sorted(machines.values(), key=lambda m: m["name"])
        ]
        legend = "--no-legend" not in options
        table = rows
        if legend and rows:
            table = [["MACHINE", "CLASS", "SERVICE", "OS", "VERSION", "ADDRESSES"]]
            table += rows
        widths = [max(len(row[i]) for row in table) for i in range(6)] if table else []
        for row in table:
            cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths)]
            sys.stdout.write(" ".join(cells + [row[-1]]) + "\\n")
        if legend:
            if rows:
                sys.stdout.write("\\n" + str(len(rows)) + " machines listed.\\n")
            else:
                sys.stdout.write("No machines.\\n")
        sys.exit(0)
    sys.exit("this stand-in does not play machinectl " + verb)
    """
)


class _Fake:
    """A program on ``PATH`` whose answers come from a JSON state file."""

    program: str
    script: str

    def __init__(self, directory: Path, state: dict[str, Any]) -> None:
        self.state = directory / f"{self.program}-state.json"
        self._write({**state, "mode": "normal", "calls": []})
        path = directory / self.program
        path.write_text(
            self.script.format(
                python=sys.executable,
                state=str(self.state),
                no_daemon=NO_DAEMON,
                no_bus=NO_BUS,
            )
        )
        path.chmod(0o755)

    def _read(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state.read_text())
        return state

    def _write(self, state: dict[str, Any]) -> None:
        self.state.write_text(json.dumps(state))

    def set_mode(self, mode: str) -> None:
        """``"normal"``, ``"hang"`` (never answers), or the fake's failure."""
        state = self._read()
        state["mode"] = mode
        self._write(state)

    @property
    def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self._read()["calls"]
        return calls


class FakeVirsh(_Fake):
    """
    A ``virsh`` with domains per connection URI; mode ``"no_daemon"`` fails
    to connect as a real one does when libvirt's daemon is not running.
    """

    program = "virsh"
    script = _FAKE_VIRSH

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, {"domains": {}})

    def add_domain(
        self,
        name: str,
        *,
        running: bool = True,
        vsock: str | None = "auto",
        cid: int | None = 3,
        uri: str = "qemu:///system",
    ) -> None:
        """
        Define a domain.

        :param vsock: ``"auto"`` (``<cid auto='yes'/>``, an address only while
            running), ``"static"`` (``<cid auto='no' address=.../>``), or
            ``None`` for no vsock device.
        """
        state = self._read()
        domains = state["domains"].setdefault(uri, [])
        running_ids = [d["id"] for d in domains if d["id"] is not None]
        domains.append(
            {
                "name": name,
                "uuid": str(uuid.uuid4()),
                "id": max(running_ids, default=0) + 1 if running else None,
                "vsock": vsock,
                "cid": cid,
            }
        )
        self._write(state)

    def restart_domain(self, name: str, cid: int) -> None:
        """The domain rebooted: a new ID, and ``cid`` for its automatic CID."""
        state = self._read()
        for domains in state["domains"].values():
            for domain in domains:
                if domain["name"] == name:
                    ids = [d["id"] for d in domains if d["id"] is not None]
                    domain["id"], domain["cid"] = max(ids) + 1, cid
        self._write(state)


class FakeMachinectl(_Fake):
    """
    A ``machinectl`` with the machines systemd-machined has registered (it
    knows running ones only); mode ``"no_bus"`` fails as a real one does
    without a system bus.
    """

    program = "machinectl"
    script = _FAKE_MACHINECTL

    def __init__(self, directory: Path, systemd: int = 256) -> None:
        super().__init__(directory, {"machines": [], "systemd": systemd})

    def add_machine(
        self,
        name: str,
        *,
        cid: int | None = 3,
        machine_class: str = "vm",
        service: str = "systemd-vmspawn",
    ) -> None:
        """Register a running machine, with its vsock CID or none."""
        state = self._read()
        state["machines"].append(
            {"name": name, "class": machine_class, "service": service, "cid": cid}
        )
        self._write(state)
