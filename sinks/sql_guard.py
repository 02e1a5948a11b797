"""What `pxstream sql` lets through: an allow-list, checked on the tokens before the engine sees them.

Why an allow-list. `readonly=1` is not read-only: it stops writes to tables, not the file system.
On the embedded engine `SELECT file('/any/path')` reads any file the process can read and
`SELECT … INTO OUTFILE` writes one; chDB ignores `user_files_path` for absolute paths and has no
setting that stops either (both measured on chDB 4.4 / ClickHouse 26.9). ClickHouse has hundreds of
functions and dozens of table functions, and each release adds some, so a list of what is
dangerous is out of date the day a new source appears. The list here is of what is known to be
harmless; anything else is refused with a message naming it (docs/operations-errors.md):

- one statement, beginning with SELECT, WITH, SHOW (tables, databases, columns, CREATE TABLE/VIEW
  only), DESCRIBE/DESC, EXPLAIN or EXISTS;
- no clause that reaches outside the query: INTO OUTFILE, FROM INFILE, SETTINGS, FORMAT, APPLY,
  PARALLEL WITH, nor any statement keyword (INSERT, CREATE, SYSTEM, KILL, …);
- no database but the connection's own: `system`, `information_schema` and `INFORMATION_SCHEMA`
  (paths, settings, other people's queries) are refused by name, quoted or not;
- every `name(` must be a function on the list below, by its exact name or, for functions ClickHouse
  itself treats case-insensitively, in any case; a quoted name used as a function is refused. Table
  functions (`file`, `url`, `s3`, `remote`, `mysql`, `executable`, `cluster`, `dictionary`, …) are
  not on it, so `FROM file(…)` is refused like `SELECT file(…)`.

The dashboards' and the monthly report's queries pass (tests/unit/test_sql_guard.py checks every
one), so a person can paste a panel's SQL into `pxstream sql` to see its rows.
The engine still runs the query with `readonly=1` (and a time limit): two fences, not one.
"""

from __future__ import annotations

from typing import NamedTuple

from sinks.exceptions import ReadOnlyQueryError
from sinks.sql_lexer import Token, tokenize

MAX_STATEMENT_CHARS = 20_000  # a long query of a person is 2,000; bounds the work one request may ask for
STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"})
SHOW_WHAT = frozenset({"TABLES", "DATABASES", "COLUMNS"})
SHOW_MODIFIERS = frozenset({"FULL", "EXTENDED"})
SHOW_CREATE_WHAT = frozenset({"TABLE", "VIEW"})

# Clauses that read or write files, change settings or pick the output format, and every statement
# keyword that is not a read: refused wherever they appear as bare words.
REFUSED_WORDS = frozenset(
    {
        *("INTO", "OUTFILE", "INFILE", "SETTINGS", "FORMAT", "APPLY", "PARALLEL", "COMPRESSION"),
        *("INSERT", "CREATE", "ALTER", "DROP", "DETACH", "ATTACH", "RENAME", "TRUNCATE", "OPTIMIZE"),
        *("SYSTEM", "KILL", "GRANT", "REVOKE", "SET", "USE", "BACKUP", "RESTORE", "DELETE", "UPDATE"),
        *("EXCHANGE", "UNDROP", "MOVE", "CHECK", "WATCH", "EXECUTE", "BEGIN", "COMMIT", "ROLLBACK"),
        *("TEMPORARY", "FUNCTION", "DICTIONARY", "INFORMATION_SCHEMA"),
    }
)
# Settings a query may choose for itself: they shape the result, never reach outside. A trailing
# `SETTINGS name = value, …` of these only is lifted out of the statement and sent as request
# settings before `readonly=1` (the engine refuses a SETTINGS clause under readonly=1).
QUERY_SETTINGS = frozenset({"join_use_nulls", "aggregate_functions_null_for_empty", "union_default_mode"})
# Databases that are not the connection's own data: compared on bare and quoted names alike.
REFUSED_DATABASES = frozenset({"system", "information_schema"})

# Words that may stand before `(` without calling anything (subqueries, lists, window specs).
# A word here that is also a ClickHouse function must be a harmless one (a test checks it).
NOT_CALLS = frozenset(
    {
        *("SELECT", "FROM", "JOIN", "USING", "ON", "WHERE", "PREWHERE", "HAVING", "QUALIFY", "AS"),
        *("AND", "OR", "NOT", "IN", "EXISTS", "ANY", "ALL", "LIKE", "ILIKE", "BETWEEN", "IS"),
        *("BY", "THEN", "ELSE", "WHEN", "CASE", "DISTINCT", "UNION", "EXCEPT", "INTERSECT", "WITH"),
        *("LIMIT", "OFFSET", "OVER", "FILTER", "INTERVAL", "ROLLUP", "CUBE", "SETS", "INTERPOLATE"),
        *("TO", "STEP", "FILL", "GLOBAL", "ARRAY", "RECURSIVE", "DESCRIBE", "DESC", "EXPLAIN", "REPLACE"),
        *("ASC", "ROWS", "RANGE", "PRECEDING", "FOLLOWING", "ESTIMATE", "PLAN", "PIPELINE", "SYNTAX"),
        *("AST", "TREE", "WINDOW", "PARTITION", "FINAL", "SAMPLE", "COLUMNS"),
    }
)

# Functions that compute on their arguments only: no file, network, dictionary, table, setting,
# host, user or time-wasting side. Exact ClickHouse spellings.
_FUNCTIONS = """
    abs acos asin atan atan2 ceil ceiling cos exp exp2 exp10 floor intDiv intDivOrZero intExp2
    intExp10 least greatest log log2 log10 ln modulo moduloOrZero negate pi pow power round
    roundBankers roundDown roundToExp2 sign sin sqrt cbrt tan trunc truncate e plus minus multiply
    divide divideOrNull gcd lcm isNaN isFinite isInfinite ifNotFinite
    and or not xor equals notEquals less greater lessOrEquals greaterOrEquals in notIn
    globalIn globalNotIn like notLike ilike notILike match isNull isNotNull isZeroOrNull
    if multiIf coalesce ifNull nullIf assumeNotNull toNullable
    toString toFixedString toInt8 toInt16 toInt32 toInt64 toInt128 toInt256 toUInt8 toUInt16
    toUInt32 toUInt64 toUInt128 toUInt256 toFloat32 toFloat64 toDecimal32 toDecimal64
    toDecimal128 toDecimal256 toInt32OrZero toInt64OrZero toUInt32OrZero toUInt64OrZero
    toFloat64OrZero toInt32OrNull toInt64OrNull toUInt32OrNull toUInt64OrNull toFloat64OrNull
    toDateOrNull toDateTimeOrNull toBool toTypeName reinterpretAsString accurateCast
    accurateCastOrNull CAST cast toUUID toUUIDOrNull toLowCardinality
    toDate toDate32 toDateTime toDateTime64 toDateOrZero toDateTimeOrZero now now64 today
    yesterday toYear toQuarter toMonth toWeek toISOWeek toISOYear toDayOfYear toDayOfMonth
    toDayOfWeek toHour toMinute toSecond toUnixTimestamp toUnixTimestamp64Milli fromUnixTimestamp
    fromUnixTimestamp64Milli toStartOfYear toStartOfQuarter toStartOfMonth toStartOfWeek
    toMonday toStartOfDay toStartOfHour toStartOfMinute toStartOfFiveMinutes
    toStartOfFifteenMinutes toStartOfTenMinutes toStartOfInterval toLastDayOfMonth toYYYYMM
    toYYYYMMDD toYYYYMMDDhhmmss toTimeZone toRelativeDayNum toRelativeWeekNum
    toRelativeMonthNum toRelativeHourNum dateDiff date_diff DATE_DIFF
    timeDiff addSeconds addMinutes addHours addDays addWeeks addMonths addQuarters
    addYears subtractSeconds subtractMinutes subtractHours subtractDays subtractWeeks
    subtractMonths subtractQuarters subtractYears toIntervalSecond toIntervalMinute
    toIntervalHour toIntervalDay toIntervalWeek toIntervalMonth toIntervalQuarter toIntervalYear
    formatDateTime parseDateTimeBestEffort parseDateTimeBestEffortOrNull parseDateTime64BestEffort
    date_trunc dateTrunc timeSlot toTime age
    length lengthUTF8 char_length empty notEmpty lower upper lowerUTF8 upperUTF8 reverse
    reverseUTF8 concat concatWithSeparator substring substr mid substringUTF8 left right leftPad
    rightPad leftPadUTF8 rightPadUTF8 trim trimLeft trimRight trimBoth ltrim rtrim position
    positionCaseInsensitive positionUTF8 locate startsWith endsWith replace replaceAll
    replaceOne replaceRegexpAll replaceRegexpOne regexpExtract extract extractAll
    extractAllGroups splitByChar splitByString splitByRegexp splitByWhitespace arrayStringConcat
    format transform repeat space base64Encode base64Decode hex unhex lowerUTF8 initcap initcapUTF8
    countSubstrings countSubstringsCaseInsensitive multiSearchAny multiSearchFirstIndex
    multiMatchAny hasToken hasTokenCaseInsensitive like ngramDistance normalizeUTF8NFC
    toValidUTF8 visibleWidth leftUTF8 rightUTF8 formatReadableSize formatReadableQuantity
    formatReadableTimeDelta JSONExtract JSONExtractString JSONExtractInt JSONExtractFloat
    JSONExtractBool JSONExtractRaw JSONExtractKeys JSONHas JSONLength JSONType
    simpleJSONExtractString isValidJSON toJSONString
    array has hasAll hasAny hasSubstr indexOf countEqual arrayJoin arrayMap arrayFilter
    arrayCount arrayExists arrayAll arraySum arrayAvg arrayMin arrayMax arrayFirst arrayLast
    arrayFirstIndex arraySort arrayReverseSort arrayDistinct arrayUniq arrayEnumerate
    arrayEnumerateUniq arrayConcat arrayElement arraySlice arrayPushBack arrayPushFront
    arrayPopBack arrayPopFront arrayReverse arrayFlatten arrayCompact arrayZip arrayIntersect
    arrayResize arrayCumSum arrayDifference arrayProduct arrayShuffle range emptyArrayString
    emptyArrayUInt64 arrayWithConstant length tuple tupleElement map mapKeys mapValues
    mapContains
    count sum avg min max any anyLast argMin argMax uniq uniqExact uniqCombined uniqHLL12
    groupArray groupUniqArray groupArraySample groupBitOr groupBitAnd quantile quantiles
    quantileExact quantilesExact quantileTDigest quantileTiming median medianExact stddevPop
    stddevSamp varPop varSamp covarPop covarSamp corr topK sumWithOverflow avgWeighted
    first_value last_value simpleLinearRegression
    row_number rank dense_rank percent_rank ntile lagInFrame leadInFrame nth_value
    sipHash64 cityHash64 xxHash64 murmurHash3_64 MD5 SHA256 halfMD5 generateUUIDv4 rand
    rand64 randCanonical currentDatabase version timezone toColumnTypeName bitAnd bitOr bitXor
    bitNot bitShiftLeft bitShiftRight byteSize isConstant identity materialize
    Nullable LowCardinality Array Tuple Map Decimal Decimal32 Decimal64 Decimal128 Decimal256
    DateTime DateTime64 FixedString Enum Enum8 Enum16
"""
SAFE_FUNCTIONS: frozenset[str] = frozenset(_FUNCTIONS.split())
# Functions ClickHouse resolves case-insensitively (SQL-standard names): any spelling may call them.
_CASE_INSENSITIVE_NAMES = """
    abs ceil ceiling floor round sqrt exp ln log pow power sign sin cos tan acos asin atan
    truncate greatest least mod if coalesce ifNull nullIf isNull lower upper length char_length
    concat substring substr mid left right trim ltrim rtrim position locate replace reverse
    repeat space format cast count sum avg min max any now today date_diff date_add date_sub
    date_trunc extract row_number rank dense_rank percent_rank ntile first_value last_value
    nth_value median stddevPop stddevSamp varPop varSamp covarPop covarSamp corr hex unhex
    toDate toDateTime version timezone
"""
CASE_INSENSITIVE: frozenset[str] = frozenset(name.lower() for name in _CASE_INSENSITIVE_NAMES.split())
_AGGREGATE_NAMES = """count sum avg min max any anyLast argMin argMax uniq uniqExact uniqCombined uniqHLL12
    groupArray groupUniqArray quantile quantiles quantileExact quantilesExact quantileTDigest
    median medianExact stddevPop stddevSamp varPop varSamp topK avgWeighted
    corr covarPop covarSamp"""
AGGREGATES: frozenset[str] = frozenset(_AGGREGATE_NAMES.split())
_CASE_INSENSITIVE_AGGREGATES = frozenset(a.lower() for a in AGGREGATES) & CASE_INSENSITIVE
# Aggregate combinators (`countIf`, `sumArray`, `uniqExactIf`, `avgOrNull`, …).
COMBINATORS = ("If", "Array", "Map", "Distinct", "OrNull", "OrDefault", "ForEach", "Merge", "State")
# Table functions that only read what the query itself spells out (`FROM numbers(10)`): the one
# kind of table function allowed. `format` is also the harmless string function of that name.
SAFE_TABLE_FUNCTIONS = frozenset({"numbers", "format"})


def is_safe_function(name: str) -> bool:
    """On the list by its exact name, in any case when ClickHouse ignores case, or an aggregate
    on the list with combinators (`countIf`, `uniqExactIf`, `sumArrayOrNull`)."""
    if name in SAFE_FUNCTIONS or name.lower() in CASE_INSENSITIVE:
        return True
    base = name
    while True:  # no two combinators end alike, so stripping greedily is exact
        suffix = next((s for s in COMBINATORS if base.endswith(s) and len(base) > len(s)), None)
        if suffix is None:
            return False
        base = base[: -len(suffix)]
        if base in AGGREGATES or base.lower() in _CASE_INSENSITIVE_AGGREGATES:
            return True


class CheckedQuery(NamedTuple):
    sql: str  # the statement without a trailing `;` or an allowed SETTINGS clause
    settings: dict[str, str]  # the allowed SETTINGS clause, to send as request settings


def check_read_only(sql: str) -> CheckedQuery:
    """Refuse anything not on the allow-list; return the statement and its allowed settings."""
    if len(sql) > MAX_STATEMENT_CHARS:
        raise ReadOnlyQueryError(
            f"pxstream sql: the statement is {len(sql):,} characters; the limit is {MAX_STATEMENT_CHARS:,}"
        )
    tokens = tokenize(sql)
    end = len(sql)
    while tokens and tokens[-1].kind == "op" and tokens[-1].text == ";":
        end = tokens.pop().offset
    if not tokens:
        raise ReadOnlyQueryError("pxstream sql runs read-only queries; the statement is empty")
    if any(token.kind == "op" and token.text == ";" for token in tokens):
        raise ReadOnlyQueryError("pxstream sql runs one statement at a time; found `;` between statements")
    tokens, settings, end = _lift_settings(tokens, end)
    _check_statement(tokens)
    for index, token in enumerate(tokens):
        _check_token(tokens, index, token)
    return CheckedQuery(sql[:end].strip(), settings)


def _lift_settings(tokens: list[Token], end: int) -> tuple[list[Token], dict[str, str], int]:
    """A trailing `SETTINGS a = 1, b = 'x'` of QUERY_SETTINGS only, taken off the statement."""
    at = next((i for i, t in enumerate(tokens) if t.upper == "SETTINGS"), None)
    if at is None:
        return tokens, {}, end
    clause, settings = tokens[at + 1 :], {}
    refused = ReadOnlyQueryError(
        "pxstream sql: SETTINGS is not allowed in a read-only query, except a trailing "
        f"`SETTINGS name = value, …` of {', '.join(sorted(QUERY_SETTINGS))}"
    )
    if len(clause) % 4 != 3:  # name = value, name = value, …
        raise refused
    for start in range(0, len(clause), 4):
        name, equals, value = clause[start : start + 3]
        separator = clause[start + 3] if start + 3 < len(clause) else None
        if not (
            name.kind == "word"
            and name.text in QUERY_SETTINGS
            and equals.text == "="
            and value.kind in ("number", "string")
            and (separator is None or separator.text == ",")
        ):
            raise refused
        settings[name.text] = value.text
    return tokens[:at], settings, tokens[at].offset


def _check_statement(tokens: list[Token]) -> None:
    start = next((i for i, t in enumerate(tokens) if not (t.kind == "op" and t.text == "(")), 0)
    first = tokens[start]
    if first.upper not in STATEMENTS:
        shown = first.text if first.kind == "word" else "a statement"
        raise ReadOnlyQueryError(
            "pxstream sql runs read-only queries (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS); "
            f"refused {shown}"
        )
    if first.upper == "SHOW":
        words = [t.upper for t in tokens[start + 1 : start + 4]]
        while words and words[0] in SHOW_MODIFIERS:
            words.pop(0)
        what = words[0] if words else ""
        create_ok = what == "CREATE" and len(words) > 1 and words[1] in SHOW_CREATE_WHAT
        if what not in SHOW_WHAT and not create_ok:
            shown = " ".join(t.text for t in tokens[start + 1 : start + 3]) or "(nothing)"
            raise ReadOnlyQueryError(
                "pxstream sql shows only TABLES, DATABASES, COLUMNS and CREATE TABLE|VIEW; "
                f"refused SHOW {shown}"
            )


def _check_token(tokens: list[Token], index: int, token: Token) -> None:
    if token.kind in ("word", "quoted_name") and token.text.lower() in REFUSED_DATABASES:
        raise ReadOnlyQueryError(
            f"pxstream sql: the {token.text} database is not available (only pxstream's own tables)"
        )
    nxt = tokens[index + 1] if index + 1 < len(tokens) else None
    called = nxt is not None and nxt.kind == "op" and nxt.text == "("
    show_create = token.upper == "CREATE" and index > 0 and tokens[index - 1].upper == "SHOW"
    format_function = token.upper == "FORMAT" and called  # the string function, not the clause
    if token.kind == "word" and token.upper in REFUSED_WORDS and not (show_create or format_function):
        raise ReadOnlyQueryError(f"pxstream sql: {token.upper} is not allowed in a read-only query")
    if not called:
        return
    if token.kind == "quoted_name":
        raise ReadOnlyQueryError(f"pxstream sql: a quoted name used as a function is refused: {token.text!r}")
    if token.kind != "word" or token.upper in NOT_CALLS:
        return
    # After FROM it may be a table function (or `WITH FILL FROM f(…)`, `extract(DAY FROM f(…))`):
    # a test proves no function on the list is also a table function, but the harmless ones.
    after_from = index > 0 and tokens[index - 1].upper in ("FROM", "JOIN")
    if not (is_safe_function(token.text) or (after_from and token.text in SAFE_TABLE_FUNCTIONS)):
        kind = "table function" if after_from else "function"
        raise ReadOnlyQueryError(
            f"pxstream sql: the {kind} {token.text}() is not on the read-only allow-list "
            "(docs/operations-errors.md says what is)"
        )
