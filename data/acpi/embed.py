#!/usr/bin/env python3
"""Turns a compiled AML file into a C array nook-vmm links in."""
import sys

data = open(sys.argv[1], "rb").read()
name = sys.argv[3]
with open(sys.argv[2], "w") as out:
    out.write("/* Generated from %s at build time. */\n#include <stddef.h>\n#include <stdint.h>\n\n" % name)
    out.write("const uint8_t nook_%s_aml[] = {\n" % name)
    for i in range(0, len(data), 12):
        out.write("    " + ", ".join("0x%02x" % b for b in data[i:i + 12]) + ",\n")
    out.write("};\nconst size_t nook_%s_aml_len = sizeof(nook_%s_aml);\n" % (name, name))
