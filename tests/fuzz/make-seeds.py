#!/usr/bin/env python3
"""Writes the hand-made seed inputs in tests/fuzz/corpus/<target>/.

Each seed is a short, valid use of the device or parser in the input format
that fuzz-<target>.c reads, so that the fuzzer starts from the interesting
paths instead of having to find them. Run it again after changing a format.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz-bus: op & 7 = 0/1 register, 2 unregister, 3 read, 4/5 write, 6/7 count


def bus_register(base, length):
    return bytes([0x00]) + struct.pack("<HB", base, length)


def bus_unregister(base):
    return bytes([0x02]) + struct.pack("<H", base)


def bus_access(write, addr, size_sel, value=0):
    return bytes([0x04 if write else 0x03]) + struct.pack("<HBB", addr, size_sel, value)


def bus_seeds():
    write("bus", "register-dispatch",
          bus_register(0x100, 0x10) + bus_register(0x3f8, 8) +
          bus_access(False, 0x105, 1) + bus_access(True, 0x3fc, 2, 0x41) +
          bus_access(False, 0x10e, 2) + bus_access(False, 0x0ff, 0) +
          bus_unregister(0x100) + bus_access(False, 0x100, 0) + bytes([0x06]))
    write("bus", "overlaps",
          bus_register(0x100, 0x10) + bus_register(0x108, 0x10) + bus_register(0xf8, 0x10) +
          bus_register(0xf0, 0x10) + bus_register(0x110, 0x10) + bus_register(0x100, 0) +
          bus_register(0xff8, 0x10) + bytes([0x06]))
    # A write whose first byte is 0xa5 makes the handler remove its range.
    write("bus", "self-remove",
          bus_register(0x200, 0x20) + bus_access(True, 0x210, 0, 0xa5) +
          bus_access(True, 0x210, 0, 0xa5) + bus_register(0x200, 0x20) + bytes([0x07]))
    # Flags: 0x40 puts the base near 2^64, 0x20 makes the length huge.
    write("bus", "wrapping", bytes([0x40, 0, 0, 0x10, 0x08]) + bytes([0x20, 0x00, 0x01, 0, 0]) +
          bytes([0x80, 0x00, 0x01, 0x10, 0xff, 0xff]) + bytes([0x06]))


# ---- fuzz-serial: op & 7 = 0/1 read, 2/3 write, 4 wide read, 5 wide write,
# 6 receive, 7 reset (with 0x80); register in bits 3..5

RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR = range(8)


def uart_out(reg, v):
    return bytes([(reg << 3) | 2, v])


def uart_in(reg):
    return bytes([(reg << 3) | 0])


def uart_receive(data):
    return bytes([6, len(data)]) + data


def serial_seeds():
    linux_init = (uart_out(LCR, 0x83) + uart_out(RBR, 0x01) + uart_out(IER, 0x00) +
                  uart_out(LCR, 0x03) + uart_out(IIR, 0xc7) + uart_out(MCR, 0x0b) +
                  uart_out(IER, 0x0f) + uart_in(IIR) + uart_in(LSR) + uart_in(MSR))
    write("serial", "linux-console",
          linux_init + uart_out(RBR, ord("h")) + uart_out(RBR, ord("i")) + uart_in(IIR) +
          uart_receive(b"hello") + b"".join(uart_in(RBR) for _ in range(5)) + uart_in(IIR) +
          uart_in(LSR))
    write("serial", "loopback-overrun",
          uart_out(MCR, 0x1f) + uart_in(MSR) + uart_out(RBR, 0x55) + uart_out(RBR, 0xaa) +
          uart_in(LSR) + uart_in(IIR) + uart_in(RBR) + uart_out(MCR, 0x10) + uart_in(MSR) +
          uart_out(SCR, 0x42) + uart_in(SCR))
    write("serial", "fifo-flow-control",
          uart_out(IIR, 0x81) + uart_out(IER, 0x05) + uart_receive(bytes(range(0x40, 0x54))) +
          uart_in(IIR) + b"".join(uart_in(RBR) for _ in range(20)) + uart_out(IIR, 0x00) +
          uart_receive(b"xy") + uart_in(RBR) + bytes([0x87]))
    write("serial", "wide-access",
          bytes([(LCR << 3) | 5, 1, 0x83, 0x0b]) + bytes([(RBR << 3) | 4, 2]) +
          bytes([(MSR << 3) | 4, 1]) + bytes([(SCR << 3) | 4, 3]))


# ---- fuzz-fw-cfg: op & 7 = 0 select (u8 key, or u16 with 0x80), 1/2 read at
# 0x510 + (u8 & 15), 3 DMA kick (u16 address, u64 with 0x80, one quadword with
# 0x40), 4 write anywhere, 5 reset. The input is also guest memory.

DMA_ERROR, DMA_READ, DMA_SKIP, DMA_SELECT, DMA_WRITE = 1, 2, 4, 8, 16


def desc(control, length, address):
    return struct.pack(">IIQ", control, length, address)


def place(ops, at, blob, total=0x240):
    """The op stream, then blob at guest address at, padded to total."""
    data = bytearray(total)
    data[:len(ops)] = ops
    data[at:at + len(blob)] = blob
    return bytes(data)


def fw_cfg_seeds():
    pio_sig = bytes([0x00, 0x00]) + bytes([0x01, 0x00, 0x01]) * 4
    write("fw-cfg", "pio-signature-dir",
          place(pio_sig + bytes([0x00, 0x19]) + bytes([0x01, 0x02, 0x01]) * 8 +
                bytes([0x02, 0x03, 0x04]) + bytes([0x01, 0x02, 0x00]), 0x100, b""))
    # Select the directory and read it into 0x180, then read more of it.
    write("fw-cfg", "dma-read-dir",
          place(bytes([0x03, 0x00, 0x01, 0x03, 0x10, 0x01]), 0x100,
                desc(0x19 << 16 | DMA_SELECT | DMA_READ, 0x44, 0x180) +
                desc(DMA_READ, 0x40, 0x1c0)))
    # First file: skip 4 bytes, read 8; the second kick is one quadword write.
    write("fw-cfg", "dma-skip-read",
          place(bytes([0x03, 0x00, 0x01, 0x43, 0x10, 0x01, 0, 0, 0, 0, 0, 0]), 0x100,
                desc(0x20 << 16 | DMA_SELECT | DMA_SKIP, 4, 0) +
                desc(DMA_READ, 8, 0x200)))
    # Targets outside RAM, a write request, and a descriptor outside RAM.
    write("fw-cfg", "dma-errors",
          place(bytes([0x03, 0x00, 0x01, 0x03, 0x10, 0x01, 0x03, 0xf8, 0xff]) +
                bytes([0x83]) + struct.pack("<Q", 1 << 40) + bytes([0x05]), 0x100,
                desc(0x21 << 16 | DMA_SELECT | DMA_READ, 0x100, 0xfff0) +
                desc(DMA_WRITE, 4, 0x200)))
    write("fw-cfg", "dma-register",
          bytes([0x01, 0x03, 0x04, 0x02, 0x02, 0x04, 0x01, 0x00, 0x08]) +
          bytes([0x04, 0x04, 0x02, 0x00, 0x00, 0x12, 0x34]))


# ---- fuzz-control: first byte seeds the chunk sizes, the rest is the stream


def control_seeds():
    write("control", "query", b"\x00" + b'{"execute":"query-status","id":1}\n')
    write("control", "echo-ids",
          b"\x01" + b'{"execute":"echo","arguments":{"value":[1,"two",{"three":null}]},"id":"a"}\n'
          b'{"execute":"echo","id":{"nested":[true,false]}}\r\n'
          b'{"id":-1.5e3,"execute":"fail"}\n'
          b'{"execute":"query-status","arguments":{},"id":null}\n')
    write("control", "errors",
          b"\x07" + b'{"execute":\n[1,2]\n"str"\n{}\n{"execute":42}\n'
          b'{"execute":"nope","id":7}\n{"execute":"echo","arguments":[1]}\n'
          b'{"execute":"query-status"}\x00\n\n   \n\xff\xfe\n')
    # Found by fuzzing: numbers json-glib writes back as "-inf.0" or "1e+308.0".
    write("control", "number-overflow",
          b"\x01" + b'{"id":-1.5e888,"execute":"fail"}\n{"execute":"echo","arguments":'
          b'{"value":[0e999,-1e-999]},"id":[1e308]}\n{"execute":"echo","id":1e-8}\n')
    # Found by fuzzing: json-glib leaks the first value when another follows.
    write("control", "two-values",
          b"\x05" + b'{"execute":"query-status"} {"execute":"query-status"}\n[1] [2]\n"s"{}\n'
          b'/* c */ {"execute":"query-status","id":2} /* ] */\n{"id":3,"execute":"echo"} /* x\n'
          b'/( c *x"}/[1] [2]\n{\'"\':[[1]]}\n')
    deep = b"[" * 29 + b"]" * 29
    write("control", "nesting",
          b"\x03" + b'{"execute":"echo","arguments":{"value":' + deep + b"}}\n" +
          b'{"execute":"echo","arguments":{"value":' + b"[" * 31 + b"]" * 31 + b"}}\n" +
          b'{"execute":"echo","arguments":{"value":"[[[{{\\"]]"}}\n' + b"]]]][[[[\n")


# ---- fuzz-boot: the kernel file; its last byte's bit 0 asks for an initrd
# (the second half of the file) and bit 1 for a command line


def elf_pvh(is64, flags):
    xen = struct.pack("<III", 4, 8 if is64 else 4, 18) + b"Xen\0" + \
        struct.pack("<Q" if is64 else "<I", 0x100010)
    code = bytes([0xf4] * 31) + bytes([flags])
    if is64:
        ehsize, phsize = 64, 56
    else:
        ehsize, phsize = 52, 32
    note_off = ehsize + 2 * phsize
    code_off = note_off + len(xen)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1]) + bytes(9)
    if is64:
        eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x100010, ehsize, 0, 0,
                                 ehsize, phsize, 2, 0, 0, 0)
        ph = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(xen), len(xen), 4)
        ph += struct.pack("<IIQQQQQQ", 1, 5, code_off, 0x100000, 0x100000, len(code), 0x1000,
                          0x1000)
    else:
        eh = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, 0x100010, ehsize, 0, 0,
                                 ehsize, phsize, 2, 0, 0, 0)
        ph = struct.pack("<IIIIIIII", 4, note_off, 0, 0, len(xen), len(xen), 4, 4)
        ph += struct.pack("<IIIIIIII", 1, code_off, 0x100000, 0x100000, len(code), 0x1000, 5,
                          0x1000)
    return eh + ph + xen + code


def bzimage(flags, version=0x020c):
    k = bytearray(1024 + 64)
    k[0x1f1] = 1                                   # setup_sects
    k[0x1fe:0x200] = b"\x55\xaa"
    k[0x200:0x202] = b"\xeb\x66"
    k[0x202:0x206] = b"HdrS"
    k[0x206:0x208] = struct.pack("<H", version)
    k[0x211] = 0x01
    k[0x22c:0x230] = struct.pack("<I", 0x37ffffff)
    k[0x236:0x238] = struct.pack("<H", 0x0003)
    k[0x238:0x23c] = struct.pack("<I", 2047)
    k[-1] = flags
    return bytes(k)


def boot_seeds():
    write("boot", "pvh-elf64", elf_pvh(True, 0x02))
    write("boot", "pvh-elf32-initrd", elf_pvh(False, 0x03))
    write("boot", "bzimage", bzimage(0x02))
    write("boot", "bzimage-initrd", bzimage(0x03))
    write("boot", "bzimage-old", bzimage(0x00, version=0x0206))


# ---- fuzz-vga: op & 15 = 0/1 VGA port write, 2 read, 3/4 DISPI write, 5 read,
# 6/7 window write, 8 read, 9/10 framebuffer, 11/12 BAR2 and ROM, 13 PCI
# configuration, 14 refresh, 15 reset; then size (1 << (n & 3)), offset u32,
# value u64


def vga_op(op, size_sel, off, val):
    return struct.pack("<BBIQ", op, size_sel, off, val)


def vga_port(port, val):
    return vga_op(0, 0, port - 0x3b0, val)


def vga_dispi(index, val):
    return vga_op(3, 1, 0, index) + vga_op(3, 1, 1, val)


def vga_seeds():
    refresh = vga_op(14, 0, 0, 0)
    write("vga", "vbe-32bpp",
          vga_dispi(1, 64) + vga_dispi(2, 16) + vga_dispi(3, 32) + vga_dispi(4, 0x41) +
          vga_port(0x3c0, 0x20) + refresh + vga_op(9, 2, 64 * 4 * 3 + 8, 0xffffff) + refresh +
          vga_dispi(9, 5000) + vga_dispi(8, 65535) + refresh)
    write("vga", "vbe-8bpp-banked",
          vga_dispi(1, 320) + vga_dispi(2, 200) + vga_dispi(3, 8) + vga_dispi(4, 0x01) +
          vga_dispi(5, 3) + vga_op(6, 3, 0x1234, 0x0102030405060708) + vga_port(0x3c8, 1) +
          vga_port(0x3c9, 0x3f) + vga_port(0x3c9, 0) + vga_port(0x3c9, 0x10) + refresh)
    text = b"".join(vga_port(0x3d4, i) + vga_port(0x3d5, v) for i, v in
                    ((0x01, 0x4f), (0x07, 0x1f), (0x09, 0x4f), (0x0a, 0x0d), (0x0b, 0x0e),
                     (0x12, 0x8f), (0x13, 0x28), (0x17, 0xa3)))
    write("vga", "text-mode",
          vga_port(0x3c2, 0x67) + text + vga_port(0x3ce, 5) + vga_port(0x3cf, 0x10) +
          vga_port(0x3ce, 6) + vga_port(0x3cf, 0x0e) + vga_port(0x3c0, 0x20) +
          vga_op(6, 1, 0x18000, 0x1e41) + vga_op(6, 1, 0x18002, 0x0742) + refresh +
          vga_port(0x3d4, 0x0f) + vga_port(0x3d5, 1) + refresh)
    write("vga", "planar-write-modes",
          vga_port(0x3c4, 4) + vga_port(0x3c5, 0x06) + vga_port(0x3ce, 6) + vga_port(0x3cf, 0x05) +
          vga_port(0x3ce, 5) + vga_port(0x3cf, 0x02) + vga_op(6, 0, 10, 0x0f) +
          vga_port(0x3cf, 0x03) + vga_op(8, 0, 10, 0) + vga_op(6, 0, 11, 0x3c) +
          vga_port(0x3cf, 0x01) + vga_op(6, 0, 12, 0) + vga_port(0x3ce, 6) + vga_port(0x3cf, 0x01) +
          vga_port(0x3c0, 0x20) + refresh)


# ---- fuzz-virtio-gpu: flags (bit 0: the driver takes the EDID feature), a
# u16 length and that much guest memory (placed at 0x4000), then ops: op % 10
# = 0/1 a command on the control/cursor queue (u16 length, u16 response
# length, u8 split point, the command), 2 raw write into guest memory, 3 bare
# notification with an available index, 4 configuration access, 5 size
# request, 6 driver reset, 7 console read, 8 machine reset, 9 memset

GPU_DATA = 0x4000
GPU_B8G8R8X8, GPU_B8G8R8A8 = 2, 1
GPU_FORMATS = [1, 2, 3, 4, 67, 68, 121, 134]


def gpu_hdr(cmd, fence=None):
    return struct.pack("<IIQIB3x", cmd, 1 if fence is not None else 0, fence or 0, 0, 0)


def gpu_rect(x, y, w, h):
    return struct.pack("<4I", x, y, w, h)


def gpu_op(queue, body, resp=1056, split=0):
    return bytes([queue]) + struct.pack("<HHB", len(body), resp, split) + body


def gpu_create(rid, fmt, w, h):
    return gpu_op(0, gpu_hdr(0x101) + struct.pack("<4I", rid, fmt, w, h))


def gpu_attach(rid, entries, split=0):
    body = gpu_hdr(0x106) + struct.pack("<II", rid, len(entries))
    body += b"".join(struct.pack("<QII", a, n, 0) for a, n in entries)
    return gpu_op(0, body, split=split)


def gpu_transfer(rid, r, offset=0, fence=None):
    return gpu_op(0, gpu_hdr(0x105, fence) + gpu_rect(*r) + struct.pack("<QII", offset, rid, 0))


def gpu_scanout(rid, r, scanout=0):
    return gpu_op(0, gpu_hdr(0x103) + gpu_rect(*r) + struct.pack("<II", scanout, rid))


def gpu_flush(rid, r):
    return gpu_op(0, gpu_hdr(0x104) + gpu_rect(*r) + struct.pack("<II", rid, 0))


def gpu_simple(cmd, rid):
    return gpu_op(0, gpu_hdr(cmd) + struct.pack("<II", rid, 0))


def gpu_cursor(cmd, x, y, rid=0, hot=(0, 0), resp=0):
    return gpu_op(1, gpu_hdr(cmd) + struct.pack("<4I", 0, x & 0xffffffff, y & 0xffffffff, 0) +
                  struct.pack("<4I", rid, hot[0], hot[1], 0), resp=resp)


def gpu_input(flags, mem, ops):
    return bytes([flags]) + struct.pack("<H", len(mem)) + mem + b"".join(ops)


GPU_LOOK = bytes([7])


def virtio_gpu_seeds():
    picture = b"".join(struct.pack("<I", (x * 16 + y) * 0x010203 & 0xffffff)
                       for y in range(16) for x in range(16))
    write("virtio-gpu", "display-edid", gpu_input(1, b"", [
        gpu_op(0, gpu_hdr(0x100)), gpu_op(0, gpu_hdr(0x10a) + struct.pack("<II", 0, 0)),
        bytes([5]) + struct.pack("<HH", 1280, 800),
        bytes([4, 0, 2, 0]) + struct.pack("<I", 0),
        bytes([4, 4, 2, 1]) + struct.pack("<I", 1),
        gpu_op(0, gpu_hdr(0x100), resp=100), gpu_op(0, gpu_hdr(0x10a) + struct.pack("<II", 1, 0))]))
    write("virtio-gpu", "draw", gpu_input(0, picture, [
        gpu_create(1, GPU_B8G8R8X8, 16, 16),
        gpu_attach(1, [(GPU_DATA, 512), (GPU_DATA + 512, 512)], split=30),
        gpu_transfer(1, (0, 0, 16, 16), fence=5), gpu_scanout(1, (0, 0, 16, 16)),
        gpu_flush(1, (0, 0, 16, 16)), GPU_LOOK,
        gpu_transfer(1, (4, 2, 8, 8), offset=2 * 64 + 16), gpu_flush(1, (4, 2, 8, 8)),
        gpu_scanout(1, (2, 2, 8, 8)), gpu_flush(1, (0, 0, 16, 16)), GPU_LOOK,
        gpu_simple(0x107, 1), gpu_simple(0x102, 1), GPU_LOOK]))
    cursor = b"".join(struct.pack("<I", 0x80000000 | i) for i in range(64 * 64))
    write("virtio-gpu", "cursor", gpu_input(0, cursor, [
        gpu_create(2, GPU_B8G8R8A8, 64, 64), gpu_attach(2, [(GPU_DATA, len(cursor))]),
        gpu_transfer(2, (0, 0, 64, 64)), gpu_cursor(0x300, 100, 200, 2, (5, 6)),
        gpu_cursor(0x301, -5, 7), gpu_cursor(0x300, 0, 0, 0, resp=24), gpu_cursor(0x301, 1, 1, resp=24)]))
    ops = []
    for i, fmt in enumerate(GPU_FORMATS):
        ops += [gpu_create(10 + i, fmt, 4, 4), gpu_attach(10 + i, [(GPU_DATA, 64)]),
                gpu_transfer(10 + i, (0, 0, 4, 4)), gpu_scanout(10 + i, (0, 0, 4, 4)),
                gpu_cursor(0x300, 3, 3, 10 + i), GPU_LOOK]
    write("virtio-gpu", "formats", gpu_input(0, bytes(range(64)), ops))
    write("virtio-gpu", "errors", gpu_input(1, picture, [
        gpu_create(1, GPU_B8G8R8X8, 16, 16), gpu_create(1, GPU_B8G8R8X8, 16, 16),
        gpu_create(0, GPU_B8G8R8X8, 16, 16), gpu_create(3, 999, 16, 16),
        gpu_create(4, GPU_B8G8R8X8, 16384, 16384), gpu_create(5, GPU_B8G8R8X8, 1024, 1024),
        gpu_attach(1, [(0xfffff00000000000, 4096)]), gpu_attach(1, [(0xfffffffffffffff0, 64)]),
        gpu_attach(1, [(0x3ffc0, 128)]), gpu_transfer(1, (0, 0, 16, 16)),
        gpu_attach(1, [(GPU_DATA, 1000)]), gpu_attach(1, [(GPU_DATA, 1024)]),
        gpu_transfer(1, (0, 0, 16, 16)), gpu_transfer(1, (0, 0, 17, 1)),
        gpu_transfer(1, (0xffffffff, 0, 2, 1)), gpu_transfer(1, (0, 0, 1, 1), offset=2 ** 64 - 1),
        gpu_flush(1, (0, 0, 16, 17)), gpu_scanout(1, (0, 0, 16, 16), scanout=1),
        gpu_scanout(1, (8, 8, 9, 9)), gpu_scanout(1, (0, 0, 16, 16)),
        gpu_op(0, gpu_hdr(0x999)), gpu_op(0, gpu_hdr(0x101)[:10]), gpu_op(0, gpu_hdr(0x200)),
        gpu_op(1, gpu_hdr(0x100), resp=24), GPU_LOOK,
        bytes([2]) + struct.pack("<IB", 0x0100, 4) + b"\xff\xff\xff\xff", bytes([3, 0, 9, 0]),
        bytes([6, 1]), gpu_create(1, GPU_B8G8R8X8, 16, 16), bytes([8]), GPU_LOOK]))


# ---- fuzz-ahci: op & 7 = 0 register write (u16 offset, size, u64 value),
# 1 read, 2 RAM store (u16 address, u8 length, bytes), 3 PCI config write
# (u8 offset, size, u32), 4 disc change, 5 bring-up (u16 CLB, u16 FB),
# 6 issue (u32 PxCI), 7 reset


def ahci_ram(at, blob):
    out = b""
    for i in range(0, len(blob), 255):
        part = blob[i:i + 255]
        out += bytes([2]) + struct.pack("<HB", at + i, len(part)) + part
    return out


def ahci_command(ct, ata, cdb=b"", prds=()):
    header = struct.pack("<IIII", 5 | (0x20 if cdb else 0) | len(prds) << 16, 0, ct, 0) + bytes(16)
    fis = bytes([0x27, 0x80, ata, 1]) + bytes(60)
    table = fis + cdb.ljust(16, b"\0") + bytes(48)
    for addr, length in prds:
        table += struct.pack("<IIII", addr, 0, 0, length - 1)
    return ahci_ram(0x0000, header) + ahci_ram(ct, table)


def ahci_seeds():
    up = bytes([5]) + struct.pack("<HH", 0x0000, 0x0400)
    issue = bytes([6]) + struct.pack("<I", 1)
    read10 = bytes([0x28, 0, 0, 0, 0, 1, 0, 0, 2]) + bytes(3)
    write("ahci", "read10-3prd", up + ahci_command(0x800, 0xa0, read10,
          [(0x2000, 1000), (0x3000, 2000), (0x5000, 1096)]) + issue)
    write("ahci", "identify", up + ahci_command(0x800, 0xa1, b"", [(0x2000, 512)]) + issue)
    cmds = [bytes([0x12, 0, 0, 0, 96]), bytes([0x25]), bytes([0x43, 2, 0, 0, 0, 0, 0, 0, 100]),
            bytes([0x46, 0, 0, 0, 0, 0, 0, 0, 200]), bytes([0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 100]),
            bytes([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8]), bytes([0x51, 0, 0, 0, 0, 0, 0, 0, 34]),
            bytes([0x03, 0, 0, 0, 18]), bytes([0x1b, 0, 0, 0, 2]), bytes([0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8])]
    out = up
    for c in cmds:
        out += ahci_command(0x800, 0xa0, c.ljust(12, b"\0"), [(0x2000, 256)]) + issue
    write("ahci", "packets", out + bytes([4, 1]) + issue + bytes([7]))
    # READ CD, READ CD MSF, READ DVD STRUCTURE (formats 0 and list), READ TRACK
    # INFORMATION, READ FORMAT CAPACITIES, MODE SENSE(6).
    mmc = [bytes([0xbe, 0x08, 0, 0, 0, 1, 0, 0, 2, 0x10]), bytes([0xb9, 0, 0, 0, 2, 1, 0, 2, 3, 0x10]),
           bytes([0xad, 0, 0, 0, 0, 0, 0, 0x00, 0x08, 0x04]), bytes([0xad, 0, 0, 0, 0, 0, 0, 0xff, 0, 100]),
           bytes([0x52, 1, 0, 0, 0, 1, 0, 0, 48]), bytes([0x23, 0, 0, 0, 0, 0, 0, 0, 12]),
           bytes([0x1a, 0, 0x3f, 0, 255])]
    out = up
    for c in mmc:
        out += ahci_command(0x800, 0xa0, c.ljust(12, b"\0"), [(0x2000, 0x1000), (0x4000, 0x1000)]) + issue
    write("ahci", "packets-mmc", out + bytes([4, 0]) + issue)
    msi = (bytes([3, 0x84, 2]) + struct.pack("<I", 0xfee00000) + bytes([3, 0x82, 1]) + struct.pack("<I", 1))
    write("ahci", "msi-outside", msi + up + ahci_command(0x800, 0xa0, read10, [(0xfff000, 4096)]) + issue +
          bytes([0]) + struct.pack("<HBQ", 0x12c, 2, 1) + bytes([0]) + struct.pack("<HBQ", 0x12c, 2, 0))


def main():
    ahci_seeds()
    vga_seeds()
    bus_seeds()
    serial_seeds()
    fw_cfg_seeds()
    control_seeds()
    boot_seeds()
    virtio_gpu_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
