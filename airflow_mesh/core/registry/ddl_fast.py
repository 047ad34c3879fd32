"""A fast reader for the common DDL shape, so a cold load of thousands of tables takes well under a second.

sqlglot costs ~0.9 ms per file (tokenizer, parser, and rendering each column type back to SQL):
4.6 s for 5,000 tables. Almost every contract has one shape::

    -- optional line comments
    CREATE TABLE db.table (
      name TYPE COMMENT '...', ...
    )
    [USING fmt] [PARTITIONED BY (col, ... | col TYPE [COMMENT '...'], ...)] [COMMENT '...']
    [TBLPROPERTIES ('key' = 'value', ...)] [;]

This reader accepts exactly that shape with plain identifiers (no SQL keyword), simple types
and strings without escapes, and returns ``None`` for *anything* else, so sqlglot reads the
file. Both readers return the same :class:`RawTable`, and every check runs on it afterwards,
so a file's errors do not depend on which reader read it. ``tests/unit/core/registry/test_ddl_fast.py``
proves both readers agree on the example mesh, the synthetic mesh and the broken-file cases.
"""

from __future__ import annotations

import re

from airflow_mesh.core.registry.raw import RawColumn, RawTable

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\n]+|--[^\n]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'[^'\\]*')
  | (?P<number>[0-9]+)
  | (?P<punct>[(),.;=])
""", re.VERBOSE)

# Spelling -> sqlglot's Spark rendering (tests compare every entry with sqlglot).
SIMPLE_TYPES = {
    "STRING": "STRING", "INT": "INT", "INTEGER": "INT", "BIGINT": "BIGINT", "LONG": "BIGINT",
    "DOUBLE": "DOUBLE", "FLOAT": "FLOAT", "BOOLEAN": "BOOLEAN", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP",
    "BINARY": "BINARY", "SMALLINT": "SMALLINT", "TINYINT": "TINYINT",
}

# Words sqlglot's Spark tokenizer treats as keywords: an identifier spelled like one goes to sqlglot.
# (A test checks this covers sqlglot's current list.)
SQL_KEYWORDS = frozenset("""
    ALL ALTER ANALYZE AND ANTI ANY APPLY ARRAY AS ASC ASOF AUTOINCREMENT AUTO_INCREMENT BEGIN BETWEEN BIGDECIMAL
    BIGINT BIGNUM BIGNUMERIC BINARY BIT BLOB BOOL BOOLEAN BPCHAR BYTE BYTEA CACHE CALL CASE CHAR CHARACTER CLOB
    COLLATE COLUMN COMMENT COMMIT CONSTRAINT COPY CREATE CROSS CUBE CURRENT_CATALOG CURRENT_DATE CURRENT_SCHEMA
    CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER DATABASE DATE DATEMULTIRANGE DATERANGE DATETIME DEC DECFLOAT
    DECIMAL DECIMAL128 DECIMAL256 DECIMAL32 DECIMAL64 DECLARE DEFAULT DELETE DESC DESCRIBE DISTINCT DIV DOUBLE
    DROP ELSE END ENUM ESCAPE EXCEPT EXECUTE EXISTS EXPLAIN FALSE FETCH FILE FILTER FIRST FIXED FLOAT FLOAT4
    FLOAT8 FOR FORMAT FROM FULL FUNCTION GEOGRAPHY GEOMETRY GLOB GRANT HAVING HUGEINT ILIKE IN INDEX INET INNER
    INSERT INT INT1 INT128 INT16 INT2 INT256 INT32 INT4 INT4MULTIRANGE INT4RANGE INT64 INT8 INT8MULTIRANGE
    INT8RANGE INTEGER INTERSECT INTERVAL INTO IS ISNULL JOIN JSON JSONB KEEP KILL LATERAL LEFT LIKE LIMIT LIST
    LOAD LOCALTIME LOCALTIMESTAMP LOCK LONG LONGBLOB LONGTEXT LONGVARCHAR MAP MEDIUMBLOB MEDIUMINT MEDIUMTEXT
    MERGE MINUS NAMESPACE NATURAL NCHAR NEXT NOT NOTNULL NULL NULLABLE NUMBER NUMERIC NUMMULTIRANGE NUMRANGE
    NVARCHAR NVARCHAR2 OBJECT OFFSET ON OPERATOR OPTIMIZE OR ORDINALITY OUT OUTER OVER OVERLAPS OVERWRITE
    PARTITION PARTITIONED_BY PERCENT PIVOT PRAGMA PREPARE PROCEDURE QUALIFY RANGE REAL RECURSIVE REF REFERENCES
    REFRESH REGEXP RENAME REPLACE RETURNING REVOKE RIGHT RLIKE ROLLBACK ROLLUP ROW ROWS SCHEMA SELECT SEMI
    SEQUENCE SERDEPROPERTIES SESSION SESSION_USER SET SETTINGS SHORT SHOW SMALLINT SOME STR STRAIGHT_JOIN STRING
    STRUCT TABLE TABLESAMPLE TEMP TEMPORARY TEXT THEN TIME TIMESTAMP TIMESTAMPLTZ TIMESTAMPNTZ TIMESTAMPTZ
    TIMESTAMP_LTZ TIMESTAMP_NTZ TIMETZ TIME_NS TINYBLOB TINYINT TINYTEXT TRIGGER TRUE TRUNCATE TSMULTIRANGE
    TSRANGE TSTZMULTIRANGE TSTZRANGE UHUGEINT UINT UINT128 UINT256 UNCACHE UNION UNIQUE UNKNOWN UNNEST UNPIVOT
    UPDATE USE USING UUID VACUUM VALUES VARBINARY VARCHAR VARCHAR2 VARIANT VECTOR VIEW VOLATILE WHEN WHERE WINDOW
    WITH XOR
""".split())


class _NotSimple(Exception):
    """The file is not of the common shape: let sqlglot read it."""


class _Tokens:
    """(kind, text, line) of each token, with line numbers as sqlglot gives them."""

    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, str, int]] = []
        pos, line = 0, 1
        match = _TOKEN.match
        while pos < len(text):
            m = match(text, pos)
            if m is None:
                raise _NotSimple
            kind, value = m.lastgroup or "", m.group()
            if kind != "space":
                if kind == "string" and text.startswith("'", m.end()):
                    raise _NotSimple  # '' inside a string
                self.items.append((kind, value, line))
            line += value.count("\n")
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.items[self.i] if self.i < len(self.items) else ("end", "", 0)

    def take(self, kind: str) -> tuple[str, int]:
        k, value, line = self.peek()
        if k != kind:
            raise _NotSimple
        self.i += 1
        return value, line

    def word(self, *words: str) -> str:
        value, _ = self.take("ident")
        if value.upper() not in words:
            raise _NotSimple
        return value.upper()

    def at_word(self, word: str) -> bool:
        k, value, _ = self.peek()
        return k == "ident" and value.upper() == word

    def name(self) -> tuple[str, int]:
        value, line = self.take("ident")
        if value.upper() in SQL_KEYWORDS:
            raise _NotSimple
        return value, line

    def string(self) -> str:
        return self.take("string")[0][1:-1]

    def punct(self, char: str) -> None:
        if self.take("punct")[0] != char:
            raise _NotSimple

    def at_punct(self, char: str) -> bool:
        k, value, _ = self.peek()
        return k == "punct" and value == char


def _type(tokens: _Tokens) -> str:
    word = tokens.take("ident")[0].upper()
    if word in SIMPLE_TYPES:
        return SIMPLE_TYPES[word]
    if word != "DECIMAL" or not tokens.at_punct("("):
        raise _NotSimple
    tokens.punct("(")
    args = [str(int(tokens.take("number")[0]))]
    if tokens.at_punct(","):
        tokens.punct(",")
        args.append(str(int(tokens.take("number")[0])))
    tokens.punct(")")
    return f"DECIMAL({', '.join(args)})"


def _column(tokens: _Tokens, partition: bool) -> RawColumn:
    name, line = tokens.name()
    col_type = _type(tokens)
    comment = None
    if tokens.at_word("COMMENT"):
        tokens.word("COMMENT")
        comment = tokens.string()
    return RawColumn(name, col_type, comment, line, partition)


def _partitions(tokens: _Tokens, raw: RawTable) -> None:
    tokens.punct("(")
    while True:
        kind, _, _ = tokens.items[tokens.i + 1] if tokens.i + 1 < len(tokens.items) else ("end", "", 0)
        if kind == "ident":  # "name TYPE ...": a column declared here
            col = _column(tokens, partition=True)
            raw.columns.append(col)
            raw.partitioned_by.append(col.name)
        else:
            raw.partitioned_by.append(tokens.name()[0])
        if not tokens.at_punct(","):
            break
        tokens.punct(",")
    tokens.punct(")")


def _properties(tokens: _Tokens, raw: RawTable) -> None:
    tokens.punct("(")
    while True:
        key = tokens.string()
        tokens.punct("=")
        raw.properties[key] = tokens.string()
        if not tokens.at_punct(","):
            break
        tokens.punct(",")
    tokens.punct(")")


def read_simple_ddl(text: str) -> RawTable | None:
    """The file's contract if it has the common shape, else None (sqlglot must read it)."""
    try:
        return _read(_Tokens(text))
    except (_NotSimple, IndexError):
        return None


def _read(tokens: _Tokens) -> RawTable:
    tokens.word("CREATE")
    tokens.word("TABLE")
    db, _ = tokens.name()
    tokens.punct(".")
    table, table_line = tokens.name()
    raw = RawTable(name=f"{db}.{table}".lower(), line=table_line)
    tokens.punct("(")
    while True:
        raw.columns.append(_column(tokens, partition=False))
        if not tokens.at_punct(","):
            break
        tokens.punct(",")
    tokens.punct(")")
    seen: set[str] = set()
    while tokens.peek()[0] == "ident":
        clause = tokens.word("USING", "PARTITIONED", "COMMENT", "TBLPROPERTIES")
        if clause in seen:
            raise _NotSimple
        seen.add(clause)
        if clause == "USING":
            tokens.name()
        elif clause == "PARTITIONED":
            tokens.word("BY")
            _partitions(tokens, raw)
        elif clause == "COMMENT":
            raw.comment = tokens.string()
        else:
            _properties(tokens, raw)
    if tokens.at_punct(";"):
        tokens.punct(";")
    if tokens.peek()[0] != "end":
        raise _NotSimple
    return raw
