#!/usr/bin/env python3
"""Wraps a flat 64-bit payload into a bzImage: setup sectors with a boot
protocol 2.12 header (64-bit entry supported), then the payload."""
import sys

payload = open(sys.argv[1], "rb").read()
setup_sects = 1
setup = bytearray(512 * (setup_sects + 1))
setup[0x1f1] = setup_sects
setup[0x1fe:0x200] = b"\x55\xaa"
setup[0x201] = 0x6a                                  # header length past 0x202
setup[0x202:0x206] = b"HdrS"
setup[0x206:0x208] = (0x020c).to_bytes(2, "little")  # protocol 2.12
setup[0x211] = 0x01                                  # LOADED_HIGH
setup[0x214:0x218] = (0x100000).to_bytes(4, "little")
setup[0x22c:0x230] = (0x37ffffff).to_bytes(4, "little")  # initrd_addr_max
setup[0x234] = 1                                     # relocatable
setup[0x236:0x238] = (0x0001).to_bytes(2, "little")  # XLF_KERNEL_64
setup[0x238:0x23c] = (2048).to_bytes(4, "little")    # cmdline_size
setup[0x258:0x260] = (0x100000).to_bytes(8, "little")  # pref_address
setup[0x260:0x264] = (len(payload) + 0x10000).to_bytes(4, "little")  # init_size
with open(sys.argv[2], "wb") as f:
    f.write(setup + payload)
