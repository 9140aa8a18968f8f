#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The user guide and the monitors agree, in both directions: every QMP
command baton registers is documented in docs/system/, and every command
a docs/system QMP list or table names is registered (STYLE.md 2.9)."""

import os
import re
import unittest

import baton_test
from baton_test import Vm

DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "..", "..", "docs", "system")


def doc_text():
    text = ""
    for name in sorted(os.listdir(DOCS)):
        if name.endswith(".md"):
            with open(os.path.join(DOCS, name), encoding="utf-8") as f:
                text += f.read() + "\n"
    return text


def documented_qmp_commands(text):
    """Names in the QMP sections: '- `cmd` — ...' bullets and the first
    column of '| `a` / `b` | ...' table rows, until the next heading of the
    same or a higher level."""
    names = set()
    in_qmp = False
    level = 0
    for line in text.splitlines():
        m = re.match(r"^(#+)\s+(.*)", line)
        if m:
            if re.search(r"\bQMP\b", m.group(2)) and "HMP" not in m.group(2):
                in_qmp, level = True, len(m.group(1))
            elif in_qmp and len(m.group(1)) <= level:
                in_qmp = False
            continue
        if not in_qmp:
            continue
        bullet = re.match(r"^- `([a-z0-9_-]+)`", line)
        if bullet:
            names.add(bullet.group(1))
        row = re.match(r"^\|([^|]*)\|", line)
        if row:
            names.update(re.findall(r"`([a-z0-9_-]+)`", row.group(1)))
    return names


class DocsMatchCommands(unittest.TestCase):
    def test_both_directions(self):
        with Vm(["-nodefaults", "-display", "none", "-accel", "qtest",
                 "-machine", "none"]) as vm:
            registered = {c["name"] for c in vm.qmp.cmd("query-commands")}
        text = doc_text()
        undocumented = sorted(c for c in registered
                              if "`%s`" % c not in text)
        self.assertEqual(undocumented, [],
                         "QMP commands missing from docs/system/")
        listed = documented_qmp_commands(text)
        self.assertTrue(listed, "found no QMP command list in docs/system/")
        unknown = sorted(listed - registered)
        self.assertEqual(unknown, [],
                         "docs/system/ lists commands baton does not have")


if __name__ == "__main__":
    baton_test.main()
