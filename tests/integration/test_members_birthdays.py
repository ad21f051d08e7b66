"""Birthday greetings are scheduled from the members' birthday index: the day's members, and on
28 February of a common year also those born on 29 February; no one else."""
import datetime
import os
import sqlite3

from harness import CN, Daemon, eventually


def birthday_members(d):
    c = sqlite3.connect(f"file:{os.path.join(d.dir, 'kioskd.db')}?mode=ro", uri=True)
    try:
        return sorted(no for (no,) in c.execute(
            "SELECT m.member_no FROM messages x JOIN members m ON m.id = x.member_id "
            "WHERE x.kind = 'birthday'"))
    finally:
        c.close()


def test_birthdays_of_the_day_and_29_february_on_28_february_of_a_common_year():
    # the daemon's clock at 10:30 China time on 28 February 2027 (a common year)
    when = datetime.datetime(2027, 2, 28, 10, 30, tzinfo=CN)
    shift = int((when - datetime.datetime.now(CN)).total_seconds())
    d = Daemon(config="[messages]\nchannel = log\nquiet_hours =\n", start=False,
               env={"KIOSKD_TEST_CLOCK": str(shift)})
    with open(os.path.join(d.dir, "m.csv"), "w", encoding="utf-8") as f:
        f.write("member_no,name,phone,aum,birthday,household,last_txn\n"
                "M001,张三丰,13811114441,100,1960-02-28,,\n"
                "M002,李四,13811114442,100,1964-02-29,,\n"
                "M003,王五,13811114443,100,1960-03-01,,\n"
                "M004,赵六,13811114444,100,1970-02-27,,\n")
    d.cli("import", "members", os.path.join(d.dir, "m.csv"))
    d.start()
    assert eventually(lambda: birthday_members(d) == ["M001", "M002"]), birthday_members(d)
    d.stop()
    d.start()  # scheduled again at start: nothing new for the same day
    assert d.get("/healthz").status == 200
    d.stop()
    assert birthday_members(d) == ["M001", "M002"]
