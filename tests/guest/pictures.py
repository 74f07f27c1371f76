"""The pictures guest tests draw, computed here for the runner to compare
screendumps with (run-guest.py --expect-picture NAME)."""

BARS = [0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000]


def vga_bars():
    """tests/guest/vga.c: 1024x768, eight colour bars over 256 lines, then
    lines that are a pattern rotated left by 37 pixels a line."""
    width, height = 1024, 768
    bars = b"".join(BARS[x // 128].to_bytes(3, "big") for x in range(width))
    pattern = b"".join(bytes((i * 7 & 0xff, (i * i >> 6) & 0xff, ((i >> 2) ^ (i * 5)) & 0xff))
                       for i in range(width))
    out = bytearray()
    for y in range(height):
        if y < 256:
            out += bars
        else:
            r = (37 * y) % width * 3
            out += pattern[r:] + pattern[:r]
    return width, height, bytes(out)


PICTURES = {"vga-bars": vga_bars}
