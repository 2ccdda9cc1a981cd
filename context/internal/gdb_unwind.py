# dyco — context layer, tests only: gdb's part of gdb_unwind_test.sh. Steps
# through every instruction of both switches and checks that the backtrace
# at each one ends where a backtrace should (main, or the trampoline of a
# context) instead of stopping at an error or in the middle of nowhere.
# DYCO_SYMBOLS holds "name start size" lines from nm (gdb names dyco__x as
# Ada's dyco.x, and an alias by its public name: addresses are simpler).
import os

import gdb

SWITCHES = ("dyco__context_switch_asm", "dyco__context_switch_ret_asm")
BAD_REASONS = {
    gdb.FRAME_UNWIND_INNER_ID,
    gdb.FRAME_UNWIND_SAME_ID,
    gdb.FRAME_UNWIND_NO_SAVED_PC,
    gdb.FRAME_UNWIND_MEMORY_ERROR,
    gdb.FRAME_UNWIND_UNAVAILABLE,
}

failures = []
checked = 0
symbols = {}  # name -> (start, end), as linked
for line in os.environ["DYCO_SYMBOLS"].splitlines():
    name, start, size = line.split()
    symbols[name] = (int(start, 16), int(start, 16) + int(size, 16))


def where_is(pc):
    """The name of the function of symbols that holds pc, or None."""
    for name, (start, end) in symbols.items():
        if start + bias <= pc < end + bias:
            return name
    return None


def backtrace(where):
    """The frames, newest first (known ones by name); records what is wrong
    with them: an unwinding error, or an outermost frame that is neither
    main nor the trampoline."""
    global checked
    checked += 1
    frame = gdb.newest_frame()
    frames = []
    last = None
    while frame is not None and len(frames) < 32:
        frames.append(where_is(frame.pc()) or hex(frame.pc()))
        last = frame
        frame = frame.older()
    reason = last.unwind_stop_reason()
    if reason in BAD_REASONS:
        failures.append("%s: unwinding stopped: %s: %s" % (
            where, gdb.frame_stop_reason_string(reason), frames))
    elif frames[-1] not in ("main", "dyco__context_trampoline"):
        failures.append("%s: the backtrace ends in %s: %s" % (
            where, frames[-1], frames))
    return frames


gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("starti", to_string=True)
# The program is position-independent: where it was loaded.
bias = int(gdb.parse_and_eval("(unsigned long)&main")) - symbols["main"][0]
for name in SWITCHES + ("dyco_test_in_context",):
    gdb.execute("break *%#x" % (symbols[name][0] + bias), to_string=True)

stepped = set()
in_context_seen = False
try:
    gdb.execute("continue", to_string=True)
    for _ in range(20):
        if not gdb.selected_inferior().pid:
            break  # the program has exited
        fn = where_is(gdb.newest_frame().pc())
        if fn == "dyco_test_in_context":
            frames = backtrace("in a context")
            in_context_seen = True
            if frames != ["dyco_test_in_context", "Body",
                          "dyco__context_trampoline"]:
                failures.append("in a context: backtrace %s" % frames)
        elif fn in SWITCHES:
            stepped.add(fn)
            steps = 0
            while where_is(gdb.newest_frame().pc()) == fn and steps < 200:
                backtrace("%s+%d" % (fn, steps))
                gdb.execute("stepi", to_string=True)
                steps += 1
            backtrace("after %s" % fn)
        gdb.execute("continue", to_string=True)
except gdb.error as e:
    failures.append("gdb: %s" % e)

if not in_context_seen:
    failures.append("never stopped in the context")
for fn in SWITCHES:
    if fn not in stepped:
        failures.append("never stepped through " + fn)
for f in failures:
    print("FAIL " + f)
print("unwind test: %d backtraces, %s" % (
    checked, "FAILED" if failures else "passed"))
