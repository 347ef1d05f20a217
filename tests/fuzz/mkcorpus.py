#!/usr/bin/env python3
"""mkcorpus.py - write the fuzz seed corpus from the unit tests' vectors.

Reads the H_CASE tables of tests/test_parse*.c and tests/test_chunked.c and
the URL table of tests/test_url.c (the C string literals, with the few
macros they use), and writes one seed file per vector under
tests/fuzz/corpus/{response,request,chunked,url}/, in each target's input
format (see the targets' header comments).  Run from the repository root:
    python3 tests/fuzz/mkcorpus.py
"""
import hashlib
import os
import re

MACROS = {
    "CH": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "CL0": b"Content-Length: 0\r\n",
    "RFC": b"http://a/b/c/d;p?q",
}
SIMPLE = {"n": 10, "r": 13, "t": 9, "0": 0, "\\": 92, '"': 34, "'": 39, "?": 63}


def c_string(body):
    """Decode the inside of a C string literal (hex escapes are greedy, as in C)."""
    out, i = bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "x":
            j = i + 2
            while j < len(body) and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(body[i + 2:j], 16) & 0xFF)
            i = j
        elif nxt in "01234567":
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(int(body[i + 1:j], 8))
            i = j
        else:
            out.append(SIMPLE[nxt])
            i += 2
    return bytes(out)


TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*)|(\S)')


def arguments(text, start):
    """Split the argument list that opens at text[start] == '(' or '{'."""
    close = {"(": ")", "{": "}"}[text[start]]
    args, cur, depth, pos = [], [], 0, start + 1
    while True:
        m = TOKEN.match(text, pos)
        if m is None:
            pos += 1
            continue
        pos = m.end()
        lit, ident, punct = m.groups()
        punct = punct or ""
        if punct and punct in "({":
            depth += 1
        elif punct and punct in ")}":
            if depth == 0 and punct == close:
                args.append(cur)
                return args
            depth -= 1
        elif punct == "," and depth == 0:
            args.append(cur)
            cur = []
            continue
        cur.append(("s", c_string(lit)) if lit is not None else ("i", ident) if ident else ("p", punct))


def value(tokens):
    """A concatenation of literals and known macros, or None (e.g. NULL)."""
    out = b""
    for kind, v in tokens:
        if kind == "s":
            out += v
        elif kind == "i" and v in MACROS:
            out += MACROS[v]
        else:
            return None
    return out


def write(directory, data):
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def message_vectors(path):
    text = open(path, encoding="latin-1").read()
    for m in re.finditer(r"H_CASE\(", text):
        args = arguments(text, m.end() - 1)
        role = [v for k, v in args[1] if k == "i"][0]
        yield role, value(args[2])


def main():
    root = "tests/fuzz/corpus"
    config = {"R": 0, "H_RESP": 0, "H_RESP_HEAD": 1, "H_RESP_CONNECT": 2, "Q": 0, "H_REQ": 0}
    for name in ("test_parse.c", "test_parse_request.c", "test_parse_misc.c", "test_chunked.c"):
        for role, data in message_vectors(os.path.join("tests", name)):
            target = "request" if role in ("Q", "H_REQ") else "response"
            for tiny in (0, 4):
                write(os.path.join(root, target), bytes([config[role] | tiny]) + data)
            if data.startswith(MACROS["CH"]):
                write(os.path.join(root, "chunked"), b"\x00" + data[len(MACROS["CH"]):])
    text = open("tests/test_url.c", encoding="latin-1").read()
    table = text[text.index("url_case cases[]"):text.index("static bool visible")]
    for m in re.finditer(r"^\s*\{ ", table, re.M):
        args = arguments(table, m.end() - 2)
        base, ref = value(args[0]), value(args[1])
        write(os.path.join(root, "url"), ref if base is None else base + b"\n" + ref)
    for seed in (b"GET\xfe/\xfeexample.com\xfeAccept\xfe*/*", b"POST\xfe/x?y\xfe[::1]:8080\xfeContent-Length\xfe12"):
        write(os.path.join(root, "request"), seed)


if __name__ == "__main__":
    main()
