#!/usr/bin/env bash
# docs/openapi.yaml kept honest, in three parts:
#  1. structure: a valid OpenAPI 3.0.3 document (every path has operations,
#     every operation responses, every $ref resolves, every schema keyword
#     and pattern is one OpenAPI 3.0 knows);
#  2. against the source: the (method, path) pairs are exactly the routes of
#     server/api.c (read by interpreting its route() function, so a new
#     route without documentation fails here), with the same authentication
#     (scope, client certificate), the same kind of body, and for JSON
#     bodies the same fields and required fields as the handlers' readers;
#  3. against the running server: every operation is called on a real
#     airlock-server over real (mutual) TLS, and every answer's status,
#     content type, documented headers and JSON body must match the spec.
# Usage: test_openapi.sh [none]
. "$(dirname "$0")/lib.sh"
SRC=${AIRLOCK_SRC:?set AIRLOCK_SRC to the source tree}
SPEC=$SRC/docs/openapi.yaml
python3 -c 'import yaml' 2>/dev/null || die "python3-yaml is missing (scripts/setup installs it)"

cat >check.py <<'PY'
import json, os, re, ssl, subprocess, sys, http.client, itertools
import yaml

SRC, SPEC, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
fails = []
def fail(msg):
    fails.append(msg)

spec = yaml.safe_load(open(SPEC))
METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

# ---------------------------------------------------------------- part 1
def resolve(ref):
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise KeyError("only local references are allowed: %r" % (ref,))
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise KeyError(ref)
        node = node[part]
    return node

def deref(node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(node["$ref"])
        seen += 1
        if seen > 20:
            raise KeyError("reference loop")
    return node

def walk_refs(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                try:
                    resolve(v)
                except KeyError as e:
                    fail("%s: $ref does not resolve: %s" % (where, e))
                if len(node) != 1:
                    fail("%s: $ref with siblings %s" % (where, sorted(set(node) - {"$ref"})))
            else:
                walk_refs(v, where + "/" + str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(v, "%s[%d]" % (where, i))

SCHEMA_KEYS = {"title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
               "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxProperties",
               "minProperties", "required", "enum", "type", "allOf", "oneOf", "anyOf", "not", "items",
               "properties", "additionalProperties", "description", "format", "default", "nullable",
               "discriminator", "readOnly", "writeOnly", "xml", "externalDocs", "example", "deprecated"}
TYPES = {"object", "array", "string", "integer", "number", "boolean"}

def check_schema(s, where):
    if not isinstance(s, dict):
        return fail("%s: a schema must be an object" % where)
    if "$ref" in s:
        return
    for k in s:
        if k not in SCHEMA_KEYS and not k.startswith("x-"):
            fail("%s: '%s' is not an OpenAPI 3.0 schema keyword" % (where, k))
    if "type" in s and s["type"] not in TYPES:
        fail("%s: type %r" % (where, s["type"]))
    if s.get("type") == "array" and "items" not in s:
        fail("%s: an array needs items" % where)
    if "pattern" in s:
        try:
            re.compile(s["pattern"])
        except re.error as e:
            fail("%s: pattern does not compile: %s" % (where, e))
    if "minLength" in s and "maxLength" in s and s["minLength"] > s["maxLength"]:
        fail("%s: minLength > maxLength" % where)
    if "nullable" in s and not isinstance(s["nullable"], bool):
        fail("%s: nullable must be a boolean" % where)
    props = s.get("properties", {})
    for r in s.get("required", []):
        if s.get("additionalProperties") is False and r not in props:
            fail("%s: required '%s' is not a property" % (where, r))
    for k, v in props.items():
        check_schema(v, where + "/properties/" + k)
    for k in ("items", "not"):
        if k in s:
            check_schema(s[k], where + "/" + k)
    if isinstance(s.get("additionalProperties"), dict):
        check_schema(s["additionalProperties"], where + "/additionalProperties")
    for k in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(s.get(k, [])):
            check_schema(sub, "%s/%s[%d]" % (where, k, i))

def check_content(content, where):
    if not isinstance(content, dict) or not content:
        return fail("%s: content must name at least one media type" % where)
    for mt, m in content.items():
        if "schema" in m:
            check_schema(m["schema"], where + "/" + mt + "/schema")

def check_parameter(p, where):
    p = deref(p)
    if p.get("in") not in ("path", "query", "header", "cookie") or not p.get("name"):
        fail("%s: a parameter needs name and in" % where)
    if p.get("in") == "path" and p.get("required") is not True:
        fail("%s: path parameter '%s' must be required" % (where, p.get("name")))
    if ("schema" in p) == ("content" in p):
        fail("%s: a parameter needs schema or content" % where)
    if "schema" in p:
        check_schema(p["schema"], where + "/schema")
    return p

def structure():
    if spec.get("openapi") != "3.0.3":
        fail("openapi must be '3.0.3', not %r" % spec.get("openapi"))
    info = spec.get("info", {})
    if not isinstance(info.get("title"), str) or not isinstance(info.get("version"), str):
        fail("info needs title and version strings")
    walk_refs(spec, "#")
    schemes = spec.get("components", {}).get("securitySchemes", {})
    for name, sc in schemes.items():
        if sc.get("type") not in ("apiKey", "http", "oauth2", "openIdConnect"):
            fail("securityScheme %s: type %r is not one of OpenAPI 3.0's" % (name, sc.get("type")))
    tags = {t["name"] for t in spec.get("tags", [])}
    op_ids = set()
    paths = spec.get("paths")
    if not isinstance(paths, dict) or not paths:
        return fail("no paths")
    for path, item in paths.items():
        if not path.startswith("/"):
            fail("path %s must start with /" % path)
        for k in item:
            if k not in METHODS and k not in ("summary", "description", "servers", "parameters", "$ref") \
                    and not k.startswith("x-"):
                fail("%s: unknown key '%s'" % (path, k))
        ops = [m for m in METHODS if m in item]
        if not ops:
            fail("%s: no operations" % path)
        templ = set(re.findall(r"\{([^}/]+)\}", path))
        path_level = [check_parameter(p, path + "/parameters") for p in item.get("parameters", [])]
        for m in ops:
            op = item[m]
            where = "%s %s" % (m.upper(), path)
            if not op.get("operationId"):
                fail("%s: no operationId" % where)
            elif op["operationId"] in op_ids:
                fail("%s: operationId %s is not unique" % (where, op["operationId"]))
            op_ids.add(op.get("operationId"))
            for t in op.get("tags", []):
                if t not in tags:
                    fail("%s: tag %s is not declared" % (where, t))
            params = path_level + [check_parameter(p, where + "/parameters") for p in op.get("parameters", [])]
            declared = {p.get("name") for p in params if p.get("in") == "path"}
            if declared != templ:
                fail("%s: path parameters %s declared, %s in the template" % (where, sorted(declared), sorted(templ)))
            resps = op.get("responses")
            if not isinstance(resps, dict) or not resps:
                fail("%s: no responses" % where)
                continue
            for code, r in resps.items():
                if not (code == "default" or re.fullmatch(r"[1-5][0-9][0-9]", str(code))):
                    fail("%s: response key %r" % (where, code))
                r = deref(r)
                if not isinstance(r.get("description"), str):
                    fail("%s %s: a response needs a description" % (where, code))
                if "content" in r:
                    check_content(r["content"], "%s %s" % (where, code))
            if "requestBody" in op:
                check_content(deref(op["requestBody"]).get("content"), where + " requestBody")
            for req in op.get("security", spec.get("security", [])):
                for name, scopes in req.items():
                    if name not in schemes:
                        fail("%s: security scheme %s is not declared" % (where, name))
                    elif scopes and schemes[name].get("type") not in ("oauth2", "openIdConnect"):
                        fail("%s: scopes are allowed only for OAuth2 schemes" % where)
            scope = op.get("x-airlock-scope")
            if scope is not None and scope not in schemes.get("adminToken", {}).get("x-airlock-scopes", {}):
                fail("%s: scope %s is not declared" % (where, scope))
    for name, s in spec.get("components", {}).get("schemas", {}).items():
        check_schema(s, "#/components/schemas/" + name)

structure()

# ---------------------------------------------------------------- part 2
# A small interpreter for the subset of C that route() in server/api.c is
# written in (blocks, if/else, return, declarations, assignments, calls,
# C expressions). It runs route() for every candidate request; calls it
# does not know (need_token(), rate_limited(), ...) may return either
# value, and every combination is explored, so a route exists when some
# run ends with st->route set. What a run called (need_*) and what it set
# rt->body to are kept with the route.

class Unsupported(Exception):
    pass

def strip_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            out.append(" " * (j + 2 - i) if j >= 0 else "")
            i = j + 2 if j >= 0 else n
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = j if j >= 0 else n
        elif text[i] in "\"'":
            q, j = text[i], i + 1
            while j < n and text[j] != q:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)

def function_body(text, name):
    m = re.search(r"\b%s\s*\([^)]*\)\s*\{" % re.escape(name), text)
    if not m:
        raise Unsupported("function %s not found" % name)
    i, depth = m.end() - 1, 0
    while i < len(text):
        c = text[i]
        if c in "\"'":
            j = i + 1
            while text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[m.end():i]
        i += 1
    raise Unsupported("unbalanced braces in %s" % name)

TOKEN_RE = re.compile(r'\s*(?:("(?:\\.|[^"\\])*")|(\'(?:\\.|[^\'\\])*\')|([A-Za-z_]\w*)|(\d\w*)|'
                      r'(->|\+\+|--|==|!=|<=|>=|&&|\|\||<<|>>|[-+*/%&|^]=|[{}()\[\];,.?:!~<>=+\-*/%&|^]))')

def tokenize(text):
    toks, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m:
            raise Unsupported("cannot tokenize near %r" % text[pos:pos + 30])
        pos = m.end()
        s, c, ident, num, op = m.groups()
        if s is not None:
            toks.append(("str", bytes(s[1:-1], "utf-8").decode("unicode_escape")))
        elif c is not None:
            toks.append(("num", ord(bytes(c[1:-1], "utf-8").decode("unicode_escape"))))
        elif ident is not None:
            toks.append(("id", ident))
        elif num is not None:
            toks.append(("num", int(re.sub(r"[uUlL]+$", "", num), 0)))
        else:
            toks.append(("op", op))
    return toks

def preprocess(body, file_text):
    """Function-like #defines (file level and inside the body) are expanded."""
    macros = {}
    for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(([^)]*)\)[ \t]*(.*)$", file_text, re.M):
        macros[m.group(1)] = ([a.strip() for a in m.group(2).split(",")], tokenize(m.group(3)))
    lines = [l for l in body.split("\n") if not l.strip().startswith("#")]
    toks = tokenize("\n".join(lines))
    for _ in range(5):
        out, i, changed = [], 0, False
        while i < len(toks):
            t = toks[i]
            if t[0] == "id" and t[1] in macros and i + 1 < len(toks) and toks[i + 1] == ("op", "("):
                params, repl = macros[t[1]]
                args, cur, depth, j = [], [], 0, i + 2
                while True:
                    u = toks[j]
                    if u == ("op", "(") or u == ("op", "["):
                        depth += 1
                    elif (u == ("op", ")") or u == ("op", "]")) and depth > 0:
                        depth -= 1
                    elif u == ("op", ")") and depth == 0:
                        args.append(cur)
                        break
                    elif u == ("op", ",") and depth == 0:
                        args.append(cur)
                        cur = []
                        j += 1
                        continue
                    cur.append(u)
                    j += 1
                sub = dict(zip(params, args))
                for r in repl:
                    out.extend([("op", "(")] + sub[r[1]] + [("op", ")")] if r[0] == "id" and r[1] in sub else [r])
                i, changed = j + 1, True
            else:
                out.append(t)
                i += 1
        toks = out
        if not changed:
            break
    return toks

UNKNOWN = object()
TYPE_WORDS = {"struct", "enum", "union", "const", "static", "volatile", "unsigned", "signed", "bool", "char",
              "short", "int", "long", "float", "double", "void", "size_t", "ssize_t", "json_t"}

def is_type_word(tok):
    return tok[0] == "id" and (tok[1] in TYPE_WORDS or tok[1].endswith("_t"))

class Parser:
    """Parses the statements of one function body into a small tree."""
    def __init__(self, toks):
        self.t, self.i = toks, 0
    def peek(self, k=0):
        j = self.i + k
        return self.t[j] if 0 <= j < len(self.t) else ("eof", None)
    def take(self, want=None):
        tok = self.peek()
        if tok[0] == "eof" or (want is not None and tok != ("op", want) and tok != ("id", want)):
            raise Unsupported("expected %r, found %r" % (want, tok))
        self.i += 1
        return tok
    def text(self, a, b):
        return "".join(str(x[1]) for x in self.t[a:b])

    def statements(self):
        out = []
        while self.peek()[0] != "eof" and self.peek() != ("op", "}"):
            out.append(self.statement())
        return ("block", out)

    def statement(self):
        tok = self.peek()
        if tok == ("op", "{"):
            self.take()
            b = self.statements()
            self.take("}")
            return b
        if tok == ("op", ";"):
            self.take()
            return ("block", [])
        if tok == ("id", "if"):
            self.take(); self.take("(")
            cond = self.expr()
            self.take(")")
            then = self.statement()
            other = None
            if self.peek() == ("id", "else"):
                self.take()
                other = self.statement()
            return ("if", cond, then, other)
        if tok == ("id", "return"):
            self.take()
            if self.peek() != ("op", ";"):
                self.expr()
            self.take(";")
            return ("return",)
        if tok[0] == "id" and tok[1] in ("switch", "for", "while", "do", "goto", "case", "default", "break", "continue"):
            raise Unsupported("'%s' in route(): teach this checker" % tok[1])
        if is_type_word(tok) and (self.peek(1)[0] == "id" or self.peek(1) == ("op", "*")):
            return self.declaration()
        e = self.expr()
        self.take(";")
        return ("expr", e)

    def declaration(self):
        while is_type_word(self.peek()) or self.peek(-1) in (("id", "struct"), ("id", "enum"), ("id", "union")):
            self.take()
        decls = []
        while True:
            while self.peek() == ("op", "*") or self.peek() == ("id", "const"):
                self.take()
            name = self.take()[1]
            while self.peek() == ("op", "["):
                self.skip_group("[", "]")
            init = None
            if self.peek() == ("op", "="):
                self.take()
                init = self.assignment()
            decls.append((name, init))
            if self.peek() == ("op", ","):
                self.take()
                continue
            self.take(";")
            return ("decl", decls)

    def skip_group(self, o, c):
        self.take(o)
        depth = 1
        while depth:
            tok = self.take()
            depth += (tok == ("op", o)) - (tok == ("op", c))

    def expr(self):
        e = self.assignment()
        while self.peek() == ("op", ","):
            self.take()
            e = ("comma", e, self.assignment())
        return e

    def assignment(self):
        start = self.i
        lhs = self.ternary()
        if self.peek()[0] == "op" and self.peek()[1] in ("=", "+=", "-=", "*=", "/=", "|=", "&=", "^=", "%="):
            text = self.text(start, self.i)
            self.take()
            return ("assign", text, self.assignment())
        return lhs

    def ternary(self):
        c = self.binary(0)
        if self.peek() == ("op", "?"):
            self.take()
            a = self.expr()
            self.take(":")
            return ("cond", c, a, self.ternary())
        return c

    LEVELS = [["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", ">", "<=", ">="], ["<<", ">>"],
              ["+", "-"], ["*", "/", "%"]]

    def binary(self, level):
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self.LEVELS[level]:
            op = self.take()[1]
            left = ("bin", op, left, self.binary(level + 1))
        return left

    def unary(self):
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("!", "-", "~", "*", "&", "+"):
            self.take()
            return ("unary", tok[1], self.unary())
        if tok == ("id", "sizeof"):
            self.take()
            if self.peek() == ("op", "(") and is_type_word(self.peek(1)):
                self.skip_group("(", ")")
            else:
                self.unary()
            return ("unknown",)
        if tok == ("op", "(") and is_type_word(self.peek(1)):
            self.skip_group("(", ")")  # a cast
            return self.unary()
        return self.postfix()

    def postfix(self):
        tok = self.take()
        if tok[0] == "num":
            e = ("num", tok[1])
        elif tok[0] == "str":
            s = tok[1]
            while self.peek()[0] == "str":  # adjacent literals concatenate
                s += self.take()[1]
            e = ("str", s)
        elif tok == ("op", "("):
            e = self.expr()
            self.take(")")
        elif tok[0] == "id":
            e = ("id", tok[1])
        else:
            raise Unsupported("unexpected %r" % (tok,))
        while True:
            p = self.peek()
            if p == ("op", "(") and e[0] == "id":
                self.take()
                args, texts = [], []
                while self.peek() != ("op", ")"):
                    start = self.i
                    args.append(self.assignment())
                    texts.append(self.text(start, self.i))
                    if self.peek() == ("op", ","):
                        self.take()
                self.take(")")
                e = ("call", e[1], args, texts)
            elif p == ("op", "["):
                self.take()
                idx = self.expr()
                self.take("]")
                e = ("index", e, idx)
            elif p in (("op", "->"), ("op", ".")):
                self.take()
                e = ("member", e, self.take()[1])
            elif p in (("op", "++"), ("op", "--")):
                self.take()
                e = ("unknown",)
            else:
                return e

class Return(Exception):
    pass

class Oracle:
    """Answers what the code cannot know (an unknown call's result): a
    fixed prefix of choices, then False; run() explores every prefix."""
    def __init__(self, prefix):
        self.prefix, self.made = prefix, []
    def choose(self):
        v = self.prefix[len(self.made)] if len(self.made) < len(self.prefix) else False
        self.made.append(v)
        return v

class Run:
    def __init__(self, env, oracle):
        self.env, self.oracle = env, oracle
        self.calls, self.body_mode = [], None

    def execute(self, node):
        kind = node[0]
        if kind == "block":
            for s in node[1]:
                self.execute(s)
        elif kind == "if":
            if self.truth(self.eval(node[1])):
                self.execute(node[2])
            elif node[3] is not None:
                self.execute(node[3])
        elif kind == "return":
            raise Return()
        elif kind == "decl":
            for name, init in node[1]:
                value = self.eval(init) if init is not None else UNKNOWN
                if name not in self.env["__preset__"]:
                    self.env[name] = value
        elif kind == "expr":
            self.eval(node[1])

    def truth(self, v):
        return self.oracle.choose() if v is UNKNOWN else bool(v)

    def eval(self, e):
        kind = e[0]
        if kind in ("num", "str"):
            return e[1]
        if kind == "id":
            name = e[1]
            if name in ("true", "false"):
                return name == "true"
            if name in self.env:
                return self.env[name]
            return name if re.fullmatch(r"[A-Z][A-Z0-9_]*", name) else UNKNOWN  # enum constants stay symbolic
        if kind == "unknown":
            return UNKNOWN
        if kind == "comma":
            self.eval(e[1])
            return self.eval(e[2])
        if kind == "assign":
            v = self.eval(e[2])
            if e[1] == "st->route":
                self.env["st"]["route"] = v
            elif e[1] == "rt->body":
                self.body_mode = v
            return v
        if kind == "cond":
            return self.eval(e[2]) if self.truth(self.eval(e[1])) else self.eval(e[3])
        if kind == "unary":
            if e[1] == "!":
                return not self.truth(self.eval(e[2]))
            v = self.eval(e[2])
            if e[1] == "-" and isinstance(v, int) and not isinstance(v, bool):
                return -v
            return v if e[1] == "+" else UNKNOWN
        if kind == "bin":
            op = e[1]
            if op == "&&":
                return self.truth(self.eval(e[2])) and self.truth(self.eval(e[3]))
            if op == "||":
                return self.truth(self.eval(e[2])) or self.truth(self.eval(e[3]))
            return self.arith(op, self.eval(e[2]), self.eval(e[3]))
        if kind == "index":
            v, idx = self.eval(e[1]), self.eval(e[2])
            return v[idx] if isinstance(v, list) and isinstance(idx, int) and 0 <= idx < len(v) else UNKNOWN
        if kind == "member":
            v = self.eval(e[1])
            return v.get(e[2], UNKNOWN) if isinstance(v, dict) else UNKNOWN
        if kind == "call":
            return self.call(e[1], [self.eval(a) for a in e[2]], e[3])
        raise Unsupported("node %s" % kind)

    def arith(self, op, a, b):
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        if op in ("==", "!="):
            return (a == b) if op == "==" else (a != b)
        if isinstance(a, (str, dict, list)) or isinstance(b, (str, dict, list)):
            return UNKNOWN
        try:
            return {"<": lambda: a < b, ">": lambda: a > b, "<=": lambda: a <= b, ">=": lambda: a >= b,
                    "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a // b,
                    "%": lambda: a % b, "<<": lambda: a << b, ">>": lambda: a >> b, "&": lambda: a & b,
                    "|": lambda: a | b, "^": lambda: a ^ b}[op]()
        except (TypeError, ZeroDivisionError):
            return UNKNOWN

    def call(self, name, args, texts):
        if name in ("strcmp", "strncmp") and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
            a, b = args[0], args[1]
            if name == "strncmp":
                if len(args) < 3 or not isinstance(args[2], int):
                    return UNKNOWN
                a, b = a[:args[2]], b[:args[2]]
            return (a > b) - (a < b)
        if name == "strlen" and args and isinstance(args[0], str):
            return len(args[0])
        if name.startswith("need_"):
            self.calls.append((name, texts[-1].strip() if len(texts) > 1 else ""))
        return UNKNOWN

PARAM = "\x01param"

def route_table():
    api = open(os.path.join(SRC, "server/api.c")).read()
    clean = strip_comments(api)
    body = function_body(clean, "route")
    tree = Parser(preprocess(body, clean)).statements()
    seg_fn = function_body(clean, "segments")
    prefix = re.search(r'prefix\s*=\s*"([^"]+)"', seg_fn).group(1)
    maxseg = int(re.search(r"\bchar\s+seg\s*\[\s*(\d+)\s*\]", body).group(1))
    lits = {}
    for m in re.finditer(r'strcmp\s*\(\s*\(?\s*seg\s*\[\s*\(?\s*(\d+)\s*\)?\s*\]\s*\)?\s*,\s*\(?\s*"([^"]*)"', body):
        lits.setdefault(int(m.group(1)), set()).add(m.group(2))
    for m in re.finditer(r'\bIS\s*\(\s*(\d+)\s*,\s*"([^"]*)"\s*\)', body):
        lits.setdefault(int(m.group(1)), set()).add(m.group(2))
    plain_paths = set(re.findall(r'strcmp\s*\(\s*path\s*,\s*"(/[^"]*)"\s*\)', body))
    candidates = [(p, []) for p in plain_paths]
    for n in range(1, maxseg + 1):
        choices = [sorted(lits.get(k, set())) + [PARAM] for k in range(n)]
        for combo in itertools.product(*choices):
            candidates.append((prefix + "/".join(combo), list(combo)))
    methods = {"HTTP_GET": "get", "HTTP_HEAD": "head", "HTTP_POST": "post", "HTTP_PUT": "put",
               "HTTP_DELETE": "delete", "HTTP_PATCH": "patch"}
    routes = {}
    for mconst, mname in methods.items():
        for path, segs in candidates:
            stack, runs = [[]], 0
            while stack:
                prefix_choices = stack.pop()
                runs += 1
                if runs > 20000:
                    raise Unsupported("too many paths through route()")
                st = {"route": "R_NONE"}
                env = {"st": st, "m": mconst, "path": path, "seg": segs, "n": len(segs),
                       "__preset__": {"st", "m", "path", "seg", "n"}}
                oracle = Oracle(prefix_choices)
                run = Run(env, oracle)
                try:
                    run.execute(tree)
                except Return:
                    pass
                for k in range(len(prefix_choices), len(oracle.made)):
                    stack.append(oracle.made[:k] + [True])
                r = st["route"]
                if r not in ("R_NONE", 0, None, UNKNOWN):
                    key = (mname, tuple(segs) if segs else path)
                    e = routes.setdefault(key, {"route": set(), "auth": set(), "body": set()})
                    e["route"].add(r)
                    e["auth"].add(tuple(sorted(run.calls)))
                    e["body"].add(run.body_mode)
    # A literal where another route has a parameter is that route, not a new one.
    def general(key):
        m, segs = key
        if not isinstance(segs, tuple):
            return False
        for k, s in enumerate(segs):
            if s != PARAM:
                g = (m, segs[:k] + (PARAM,) + segs[k + 1:])
                if g in routes and routes[g]["route"] == routes[key]["route"]:
                    return True
        return False
    out = {}
    for key, e in routes.items():
        if general(key):
            continue
        m, segs = key
        templ = (prefix + "/".join("{}" if s == PARAM else s for s in segs)) if isinstance(segs, tuple) else segs
        if len(e["route"]) != 1:
            fail("%s %s reaches several routes %s" % (m.upper(), templ, sorted(e["route"])))
        out[(m, templ)] = e
    return out, clean

def norm(path):
    return re.sub(r"\{[^}/]+\}", "{}", path)

def handler_fields(clean_api):
    """route id -> (allowed fields, required fields) of the JSON reader of its handler."""
    handle = function_body(clean_api, "handle")
    svc_src = ""
    for f in sorted(os.listdir(os.path.join(SRC, "server"))):
        if f.startswith("svc") and f.endswith(".c"):
            svc_src += strip_comments(open(os.path.join(SRC, "server", f)).read())
    res = {}
    for m in re.finditer(r"case\s+(R_\w+)\s*:\s*(?:\{[^}]*?)?\b(svc_\w+)\s*\(", handle):
        rid, fn = m.group(1), m.group(2)
        try:
            body = function_body(svc_src, fn)
        except Unsupported:
            continue
        fm = re.search(r"fields\[\]\s*=\s*\{([^}]*)\}", body)
        if not fm:
            continue
        allowed = set(re.findall(r'"([^"]+)"', fm.group(1)))
        required, seen = set(), set()
        # the readers in the handler, and in helpers it hands the body to
        texts = [body]
        for hm in re.finditer(r"\b(\w+)\s*\(\s*body\s*,", body):
            if not hm.group(1).startswith("jin_") and hm.group(1) != "decode_b64_field":
                try:
                    texts.append(function_body(svc_src, hm.group(1)))
                except Unsupported:
                    pass
        for rm in re.finditer(r'\b(jin_str|jin_int|jin_hex|decode_b64_field)\s*\(\s*\w+\s*,\s*"(\w+)"\s*,([^;]*?)\)', "\n".join(texts)):
            kind, key, rest = rm.groups()
            args = [a.strip() for a in rest.split(",")]
            pos = {"jin_str": 1, "jin_int": 2, "jin_hex": 2, "decode_b64_field": 1}[kind]
            if len(args) > pos and args[pos] in ("true", "false"):
                seen.add(key)
                if args[pos] == "true":
                    required.add(key)
        if seen != allowed:
            fail("%s (%s): cannot tell from the readers whether %s are required" % (rid, fn, sorted(allowed - seen)))
        res[rid] = (allowed, required)
    return res

def against_source():
    try:
        code, clean = route_table()
        fields = handler_fields(clean)
    except Unsupported as e:
        return fail("cannot read the routes of server/api.c: %s" % e)
    doc = {}
    for path, item in spec["paths"].items():
        for m in METHODS:
            if m in item:
                doc[(m, norm(path))] = (path, item[m])
    code_main = {k for k in code if k[0] != "head"}
    doc_main = {k for k in doc if k[0] != "head"}
    for k in sorted(code_main - doc_main):
        fail("route %s %s (%s) is in server/api.c but not in docs/openapi.yaml" %
             (k[0].upper(), k[1], "/".join(sorted(code[k]["route"]))))
    for k in sorted(doc_main - code_main):
        fail("operation %s %s is in docs/openapi.yaml but server/api.c has no such route" % (k[0].upper(), k[1]))
    for k in sorted(k for k in doc if k[0] == "head"):
        if k not in code:
            fail("HEAD %s is documented but server/api.c does not route it" % k[1])
    for k in sorted(doc_main & code_main):
        path, op = doc[k]
        e = code[k]
        where = "%s %s" % (k[0].upper(), path)
        # authentication
        want = set()
        cert = op.get("x-airlock-client-certificate")
        uses_token = any("adminToken" in r for r in op.get("security", []))
        if cert in ("required", "device-or-token"):
            want.add((("need_device", ""),))
        if uses_token:
            want.add((("need_token", "SCOPE_" + str(op.get("x-airlock-scope", "")).upper()),))
        if cert == "device-or-token" and not uses_token:
            fail("%s: device-or-token without the adminToken scheme" % where)
        if not want:
            want.add(())
        got = {tuple((n, a if n == "need_token" else "") for n, a in alt) for alt in e["auth"]}
        if got != want:
            fail("%s: authentication in the code %s, in the spec %s" % (where, sorted(got), sorted(want)))
        # body
        modes = e["body"] - {None, UNKNOWN}
        mode = modes.pop() if len(modes) == 1 else None
        rb = deref(op["requestBody"]) if "requestBody" in op else None
        types = set(rb["content"]) if rb else set()
        expect = {"HTTP_BODY_NONE": set(), None: set(), "HTTP_BODY_BUFFER": {"application/json"},
                  "HTTP_BODY_STREAM": {"application/octet-stream"}}.get(mode)
        if expect is None or types != expect:
            fail("%s: the code reads the body as %s, the spec documents %s" % (where, mode, sorted(types) or "none"))
        rid = next(iter(e["route"]))
        if rb and "application/json" in rb["content"]:
            if rid not in fields:
                fail("%s: no field list found for the handler of %s" % (where, rid))
                continue
            allowed, required = fields[rid]
            s = deref(rb["content"]["application/json"]["schema"])
            if s.get("additionalProperties") is not False:
                fail("%s: the handler refuses unknown fields: additionalProperties must be false" % where)
            if set(s.get("properties", {})) != allowed:
                fail("%s: body fields in the code %s, in the spec %s" % (where, sorted(allowed), sorted(s.get("properties", {}))))
            if set(s.get("required", [])) != required:
                fail("%s: required fields in the code %s, in the spec %s" % (where, sorted(required), sorted(s.get("required", []))))
    print("routes in server/api.c: %d (plus HEAD on every GET); documented operations: %d" % (len(code_main), len(doc)))

against_source()

# ---------------------------------------------------------------- part 3
def validate(value, schema, where):
    schema = deref(schema)
    if value is None:
        if schema.get("nullable") is True:
            return
        if "type" in schema or "allOf" in schema:
            return fail("%s: null where %s is due" % (where, schema.get("type", "a value")))
    for sub in schema.get("allOf", []):
        validate(value, sub, where)
    t = schema.get("type")
    okt = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
           "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
           "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
           "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}
    if t and not okt[t](value):
        return fail("%s: %r is not of type %s" % (where, value, t))
    if "enum" in schema and value not in schema["enum"]:
        fail("%s: %r is not one of %s" % (where, value, schema["enum"]))
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1 << 62):
            fail("%s: length %d outside %s..%s" % (where, len(value), schema.get("minLength"), schema.get("maxLength")))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            fail("%s: %r does not match %s" % (where, value[:80], schema["pattern"]))
    if isinstance(value, int) and not isinstance(value, bool):
        if value < schema.get("minimum", -(1 << 64)) or value > schema.get("maximum", 1 << 64):
            fail("%s: %d out of range" % (where, value))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for r in schema.get("required", []):
            if r not in value:
                fail("%s: required '%s' missing in %s" % (where, r, sorted(value)))
        for k, v in value.items():
            if k in props:
                validate(v, props[k], where + "." + k)
            elif schema.get("additionalProperties") is False:
                fail("%s: '%s' is not documented" % (where, k))
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            validate(v, schema["items"], "%s[%d]" % (where, i))

def find_op(method, path):
    best = None
    for templ, item in spec["paths"].items():
        rx = "^" + re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(templ)) + "$"
        if re.match(rx, path) and method in item:
            lit = len(re.sub(r"\{[^}/]+\}", "", templ))
            if best is None or lit > best[0]:
                best = (lit, templ, item[method])
    return best

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer",
                    "content-security-policy": "default-src 'none'; frame-ancestors 'none'"}
exercised = {}

def check_answer(method, path, status, headers, body, tls):
    where = "%s %s -> %d" % (method.upper(), path, status)
    found = find_op(method, path)
    if not found:
        return fail("%s: no documented operation" % where)
    _, templ, op = found
    exercised.setdefault((method, templ), set()).add(status)
    resps = op["responses"]
    r = resps.get(str(status), resps.get("default"))
    if r is None:
        return fail("%s: status %d is not documented (documented: %s)" % (where, status, sorted(resps)))
    r = deref(r)
    if not re.fullmatch(r"[0-9a-f]{16}", headers.get("x-request-id", "")):
        fail("%s: X-Request-Id %r" % (where, headers.get("x-request-id")))
    for h, v in SECURITY_HEADERS.items():
        if headers.get(h) != v:
            fail("%s: header %s is %r, not %r" % (where, h, headers.get(h), v))
    if tls and headers.get("strict-transport-security") != "max-age=31536000":
        fail("%s: no Strict-Transport-Security" % where)
    for h, hv in r.get("headers", {}).items():
        hv = deref(hv)
        got = headers.get(h.lower())
        if got is None:
            fail("%s: documented header %s missing" % (where, h))
        elif "schema" in hv:
            s = deref(hv["schema"])
            validate(int(got) if s.get("type") == "integer" and got.isdigit() else got, s, where + " header " + h)
    content = r.get("content")
    if method == "head" or status == 304:
        return
    if not content:
        if body:
            fail("%s: a body where none is documented" % where)
        return
    ctype = headers.get("content-type", "")
    if ctype not in content:
        return fail("%s: Content-Type %r, documented %s" % (where, ctype, sorted(content)))
    if ctype == "application/json":
        try:
            doc = json.loads(body)
        except ValueError:
            return fail("%s: the body is not JSON" % where)
        validate(doc, content[ctype]["schema"], where)

class Client:
    def __init__(self, port, ca):
        self.port, self.ca = port, ca
    def ctx(self, cert):
        c = ssl.create_default_context(cafile=self.ca)
        if cert:
            c.load_cert_chain(cert + ".crt", cert + ".key")
        return c
    def call(self, method, path, token=None, cert=None, body=None, headers=None, expect=None, plain_port=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if plain_port:
            conn = http.client.HTTPConnection("127.0.0.1", plain_port, timeout=30)
        else:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx(cert), timeout=30)
        conn.request(method.upper(), path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        conn.close()
        check_answer(method.lower(), path.split("?")[0], resp.status, hdrs, data, plain_port is None)
        if expect is not None and resp.status != expect:
            fail("%s %s: expected %d, got %d: %s" % (method, path, expect, resp.status, data[:200]))
        try:
            return resp.status, hdrs, data, (json.loads(data) if hdrs.get("content-type") == "application/json" else None)
        except ValueError:
            return resp.status, hdrs, data, None

def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout

def live():
    port, plain, admin, airlock = int(os.environ["PORT"]), int(os.environ["PLAIN_PORT"]), os.environ["ADMIN"], os.environ["AIRLOCK"]
    c = Client(port, "srv/fleet-ca.crt")
    # operations
    c.call("get", "/healthz", expect=200)
    c.call("get", "/healthz", plain_port=plain, expect=200)
    c.call("get", "/metrics", plain_port=plain, expect=200)
    _, _, root, _ = c.call("get", "/api/v1/root", expect=200)
    if root != open("srv/root.cbor", "rb").read():
        fail("GET /api/v1/root is not the configured root")
    _, _, root1, _ = c.call("get", "/api/v1/root/1", expect=200)
    if root1 != root:
        fail("GET /api/v1/root/1 is not the first root of the chain")
    c.call("get", "/api/v1/root/2", expect=404)
    c.call("get", "/api/v1/root/x", expect=400)
    # tokens
    c.call("post", "/api/v1/tokens", admin, body={"name": "x", "scopes": "root"}, expect=400)
    c.call("post", "/api/v1/tokens", admin, body=b"{", headers={"Content-Type": "application/json"}, expect=400)
    _, _, _, rd = c.call("post", "/api/v1/tokens", admin, body={"name": "reader", "scopes": "read", "ttl": 3600}, expect=201)
    _, _, _, rl = c.call("post", "/api/v1/tokens", admin, body={"name": "releaser", "scopes": "release,deploy"}, expect=201)
    c.call("get", "/api/v1/tokens", admin, expect=200)
    c.call("get", "/api/v1/tokens", rd["token"], expect=403)
    c.call("get", "/api/v1/devices", expect=401)
    c.call("get", "/api/v1/devices", rd["token"], expect=200)
    # enrollment
    _, _, _, et = c.call("post", "/api/v1/enroll-tokens", admin, body={"hardware": "board-a", "tags": "lab,eu", "ttl": 600}, expect=201)
    sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "d1.key")
    csr = sh("openssl", "req", "-new", "-key", "d1.key", "-subj", "/CN=ignored")
    sh(airlock, "key", "generate", "--alg", "x25519", "--out", "d1-wrap")
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", "d1-wrap.pub", "-outform", "DER"], check=True, capture_output=True).stdout
    enroll = {"token": et["token"], "device_id": "d1", "csr": csr, "wrap_key": der[-32:].hex()}
    _, _, _, en = c.call("post", "/api/v1/enroll", body=enroll, expect=201)
    open("d1.crt", "w").write(en["certificate"])
    c.call("post", "/api/v1/enroll", body=enroll, expect=401)
    c.call("get", "/api/v1/devices/d1", rd["token"], expect=200)
    # enrollment tokens listed and revoked; a device pre-registered for a manufacturer certificate
    c.call("get", "/api/v1/enroll-tokens", admin, expect=200)
    c.call("get", "/api/v1/enroll-tokens", rd["token"], expect=403)
    _, _, _, et2 = c.call("post", "/api/v1/enroll-tokens", admin, body={"hardware": "board-a"}, expect=201)
    c.call("delete", "/api/v1/enroll-tokens/" + et2["id"], admin, expect=200)
    c.call("delete", "/api/v1/enroll-tokens/" + et2["id"], admin, expect=404)
    c.call("delete", "/api/v1/enroll-tokens/" + et["id"], admin, expect=409)
    c.call("delete", "/api/v1/enroll-tokens/XYZ", admin, expect=400)
    reg = {"id": "m1", "hardware": "board-a", "group": "lab", "wrap_key": der[-32:].hex()}
    c.call("post", "/api/v1/devices", admin, body=reg, expect=201)
    c.call("post", "/api/v1/devices", admin, body=reg, expect=409)
    c.call("post", "/api/v1/devices", admin, body=dict(reg, wrap_key="00"), expect=400)
    c.call("post", "/api/v1/devices", rd["token"], body=reg, expect=403)
    c.call("get", "/api/v1/devices/nosuch", rd["token"], expect=404)
    nonce = os.urandom(16).hex()
    c.call("post", "/api/v1/device/checkin", cert="d1", body={"nonce": nonce, "security_version": 0}, expect=200)
    c.call("post", "/api/v1/device/checkin", body={"nonce": nonce, "security_version": 0}, expect=401)
    c.call("post", "/api/v1/device/checkin", cert="d1", body={"nonce": "00", "security_version": 0}, expect=400)
    # a release, its artifacts, a deployment
    open("fw.img", "wb").write(os.urandom(150000))
    os.makedirs("rel", exist_ok=True)
    sh(airlock, "release", "create", "--out", "rel/r.cbor", "--product", "gw", "--hardware", "board-a", "--version", "2.0",
       "--security-version", "1", "--payload", "rootfs=fw.img", "--chunk-size", "65536")
    import base64
    b64 = lambda f: base64.b64encode(open(f, "rb").read()).decode()
    c.call("post", "/api/v1/releases", rl["token"], body={"release": b64("rel/r.cbor")}, expect=422)
    sh(airlock, "release", "sign", "rel/r.cbor", "--key", "srv/dev-keys/release.key")
    _, _, _, pushed = c.call("post", "/api/v1/releases", rl["token"], body={"release": b64("rel/r.cbor")}, expect=201)
    c.call("post", "/api/v1/releases", rl["token"], body={"release": b64("rel/r.cbor")}, expect=200)
    digest = pushed["digest"]
    c.call("get", "/api/v1/releases", rd["token"], expect=200)
    dep_body = {"release": digest, "target_kind": "tag", "target": "lab"}
    c.call("post", "/api/v1/deployments", rl["token"], body=dep_body, expect=409)
    base = "/api/v1/releases/%s/payloads/rootfs" % digest
    c.call("put", base, rl["token"], body=b"x" * 10, headers={"Content-Type": "application/octet-stream"}, expect=400)
    bad = bytearray(open("fw.img", "rb").read()); bad[7] ^= 1
    c.call("put", base, rl["token"], body=bytes(bad), headers={"Content-Type": "application/octet-stream"}, expect=422)
    _, _, _, art = c.call("put", base, rl["token"], body=open("fw.img", "rb").read(), headers={"Content-Type": "application/octet-stream"}, expect=201)
    _, _, _, chk = c.call("put", base + "/chunks", rl["token"], body=open("rel/rootfs.chunks", "rb").read(), headers={"Content-Type": "application/octet-stream"}, expect=201)
    c.call("put", "/api/v1/releases/%s/payloads/nosuch" % digest, rl["token"], body=b"x", expect=404)
    _, _, _, dep = c.call("post", "/api/v1/deployments", rl["token"], body=dep_body, expect=201)
    c.call("get", "/api/v1/deployments", rd["token"], expect=200)
    _, _, _, ci = c.call("post", "/api/v1/device/checkin", cert="d1", body={"nonce": os.urandom(32).hex(), "security_version": 0, "version": "1.0"}, expect=200)
    if not ci or ci.get("deployment") != dep["id"] or "release" not in ci:
        fail("the check-in after the deployment did not offer it: %r" % (ci,))
    # downloads: full, range, conditional, unsatisfiable, HEAD, by token
    a = "/api/v1/artifacts/" + art["sha256"]
    _, h, data, _ = c.call("get", a, cert="d1", expect=200)
    if data != open("fw.img", "rb").read() or h.get("etag") != '"%s"' % art["sha256"]:
        fail("artifact download differs or has no ETag")
    _, h, data, _ = c.call("get", a, cert="d1", headers={"Range": "bytes=100-199"}, expect=206)
    if data != open("fw.img", "rb").read()[100:200] or h.get("content-range") != "bytes 100-199/150000":
        fail("range answer wrong: %r" % h.get("content-range"))
    c.call("get", a, cert="d1", headers={"If-None-Match": '"%s"' % art["sha256"]}, expect=304)
    c.call("get", a, cert="d1", headers={"Range": "bytes=150000-"}, expect=416)
    c.call("head", a, cert="d1", expect=200)
    c.call("get", "/api/v1/artifacts/" + chk["sha256"], rd["token"], expect=200)
    c.call("get", "/api/v1/artifacts/" + "0" * 64, rd["token"], expect=404)
    c.call("get", "/api/v1/artifacts/ABC", rd["token"], expect=400)
    # events
    ev = {"event_id": "e-1", "deployment": dep["id"], "state": "downloading", "progress": 50}
    c.call("post", "/api/v1/device/events", cert="d1", body=ev, expect=201)
    c.call("post", "/api/v1/device/events", cert="d1", body=ev, expect=200)
    c.call("post", "/api/v1/device/events", cert="d1", body={"event_id": "e-2", "deployment": 999999, "state": "failed"}, expect=404)
    c.call("post", "/api/v1/device/events", cert="d1", body={"event_id": "e 3", "state": "failed"}, expect=400)
    # cancel, audit, revocation
    c.call("post", "/api/v1/deployments/%d/cancel" % dep["id"], rl["token"], expect=200)
    c.call("post", "/api/v1/deployments/%d/cancel" % dep["id"], rl["token"], expect=404)
    c.call("post", "/api/v1/deployments/x/cancel", rl["token"], expect=400)
    c.call("post", "/api/v1/audit/checkpoint", admin, expect=200)
    c.call("get", "/api/v1/audit?from=1", rd["token"], expect=200)
    c.call("get", "/api/v1/audit?from=x", rd["token"], expect=400)
    c.call("post", "/api/v1/devices/d1/revoke", admin, expect=200)
    c.call("post", "/api/v1/devices/d1/revoke", admin, expect=404)
    c.call("get", "/api/v1/devices/d1", admin, expect=200)
    c.call("post", "/api/v1/device/checkin", cert="d1", body={"nonce": nonce, "security_version": 0}, expect=403)
    c.call("delete", "/api/v1/tokens/" + rd["id"], admin, expect=200)
    c.call("delete", "/api/v1/tokens/" + rd["id"], admin, expect=404)
    c.call("get", "/api/v1/devices", rd["token"], expect=401)
    # every documented operation was called, with a success among its answers
    for path, item in spec["paths"].items():
        for m in METHODS:
            if m in item:
                got = exercised.get((m, path), set())
                if not any(200 <= s < 300 for s in got):
                    fail("%s %s was not exercised with success (answers seen: %s)" % (m.upper(), path, sorted(got)))
    print("live: %d operations exercised" % len(exercised))

if MODE == "live" and not fails:
    live()
for f in fails:
    print("FAIL: " + f, file=sys.stderr)
sys.exit(1 if fails else 0)
PY

# Parts 1 and 2 need no server: fail fast.
python3 check.py "$SRC" "$SPEC" static || die "docs/openapi.yaml does not hold"
pass

init_server
PLAIN_PORT=$(free_port)
sed -i "s/^# health_listen = .*/health_listen = 127.0.0.1:$PLAIN_PORT/" srv/server.conf
grep -q "^health_listen = 127.0.0.1:$PLAIN_PORT" srv/server.conf || die "cannot enable health_listen"
start_server
PORT=$PORT PLAIN_PORT=$PLAIN_PORT ADMIN=$ADMIN AIRLOCK=$AIRLOCK python3 check.py "$SRC" "$SPEC" live ||
	die "the running server does not answer as docs/openapi.yaml says"
pass
done_ok
