"""python3 with its standard library and sqlite3: N rows (argv[1]) into an in-memory table, then
json, hashlib, zlib, decimal and re. Run with -c by the corpus (tests/guest/test_real_software.py,
python -m lwjvm.baseline --only corpus), so sys.argv[1] is N."""

import decimal
import hashlib
import json
import re
import sqlite3
import sys
import zlib

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
c = sqlite3.connect(":memory:")
c.execute("create table t(id integer primary key, name text, v real)")
c.executemany("insert into t(name, v) values (?, ?)", [(f"n{i % 13}", i / 7) for i in range(N)])
print(c.execute("select count(*), count(distinct name), round(sum(v), 3) from t").fetchone())
print(sqlite3.sqlite_version, sys.executable)
data = json.dumps({"rows": [list(r) for r in c.execute("select * from t limit 5")]}).encode()
print(hashlib.sha256(zlib.compress(data, 9)).hexdigest())
print(decimal.Decimal(1) / decimal.Decimal(7), re.sub(r"(\d+)", r"<\1>", "a1b22c333"))
