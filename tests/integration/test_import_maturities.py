"""kioskd import maturities FILE.csv: a good file, re-import (the same member, product and date
replace the amount), bad rows named by line and field with nothing imported, and the maturity
reminders the scheduler derives from the rows (moved in time with KIOSKD_TEST_CLOCK)."""
import datetime
import os

from harness import CN, Daemon
from test_messages import rows, wait_for

HEADER = "member_no,product,amount,matures_on\n"


def daemon():
    d = Daemon(config="[messages]\nquiet_hours =\nchannel = log\nmaturity_days = 7\n", start=False)
    with open(os.path.join(d.dir, "members.csv"), "w", encoding="utf-8") as f:
        f.write("member_no,name,phone,aum,birthday,household,last_txn\n"
                "M001,张三丰,13811114444,52000,1960-01-02,,\n"
                "M002,李四,13811115555,52000,1961-01-01,,\n")
    d.cli("import", "members", os.path.join(d.dir, "members.csv"))
    return d


def write(d, name, body):
    path = os.path.join(d.dir, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(body)
    return path


def maturities(d):
    return rows(d, "SELECT m.member_no, x.product, x.amount, x.matures_on FROM maturities x "
                   "JOIN members m ON m.id = x.member_id ORDER BY x.id")


def test_bad_rows_are_named_by_line_and_field_and_nothing_is_imported():
    d = daemon()
    good = "M001,定期存款三年,50000.00,2027-01-05\n"
    cases = [
        (good + "M002,理财A,12.345,2027-01-05\n", ":3: amount:"),
        (good + "M002,理财A,100,2027-02-30\n", ":3: matures_on:"),
        (good + "M002,,100,2027-02-03\n", ":3: product:"),
        (good + "M0 2,理财A,100,2027-02-03\n", ":3: member_no:"),
        (good + "M404,理财A,100,2027-02-03\n", ":3: member_no: no such member"),
        (good + "M002,理财A,100\n", ":3:"),
    ]
    for body, want in cases:
        p = d.cli("import", "maturities", write(d, "bad.csv", HEADER + body), check=False)
        err = p.stderr.decode()
        assert p.returncode == 1 and "bad.csv" + want in err and "nothing was imported" in err, \
            (body, err)
        assert maturities(d) == [], body
    p = d.cli("import", "maturities", write(d, "hdr.csv", "member_no,product,amount\n" + good),
              check=False)
    assert p.returncode == 1 and maturities(d) == []
    p = d.cli("import", "nothing", "x.csv", check=False)
    assert p.returncode == 2 and b"maturities" in p.stderr


def test_a_good_file_then_a_reimport_and_the_reminders_it_schedules():
    d = daemon()
    today = datetime.datetime.now(CN).date()
    soon, later = today + datetime.timedelta(days=3), today + datetime.timedelta(days=30)
    path = write(d, "mat.csv", HEADER + f"M001,定期存款三年,50000.00,{soon}\n"
                                        f"M002,\"理财A, 稳健\",1200.5,{later}\n")
    p = d.cli("import", "maturities", path)
    assert b"imported 2 maturities (2 new, 0 updated)" in p.stdout, p.stdout
    write(d, "mat.csv", HEADER + f"M001,定期存款三年,60000,{soon}\n"
                                 f"M002,\"理财A, 稳健\",1200.5,{later}\n")
    p = d.cli("import", "maturities", path)
    assert b"(0 new, 2 updated)" in p.stdout, p.stdout
    assert maturities(d) == [("M001", "定期存款三年", 6000000, str(soon)),
                             ("M002", "理财A, 稳健", 120050, str(later))]
    # within [messages] maturity_days of the date: the reminder is due now
    d.start()
    wait_for(lambda: rows(d, "SELECT status FROM messages WHERE kind = 'maturity'") == [("sent",)])
    d.stop()
    # 25 days on, the second maturity is within 7 days too
    d.env["KIOSKD_TEST_CLOCK"] = str(25 * 86400)
    d.start()
    wait_for(lambda: rows(d, "SELECT count(*) FROM messages WHERE kind = 'maturity' "
                             "AND status = 'sent'") == [(2,)])
    d.stop()
    log = d.all_stderr()
    assert "13811114444" not in log and "13811115555" not in log
