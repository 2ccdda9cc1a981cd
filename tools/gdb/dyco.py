# dyco — gdb extension: list the coroutines of a process and show the
# backtrace of a suspended one. Needs no debug information for dyco.
#
#   (gdb) source tools/gdb/dyco.py        (or auto-load it, see README)
#   (gdb) info dyco-coroutines            every scheduler's coroutines
#   (gdb) dyco-coroutine bt ID            backtrace of coroutine ID of the
#                                         selected thread's scheduler
#   (gdb) dyco-coroutine bt SCHED:ID      ... of scheduler SCHED
#
# It reads the layout sched exports (dyco__debug in sched/schedule.c). The
# backtrace of a suspended coroutine comes from a frame unwinder that, for a
# moment, makes the registers its context switch saved the callers of the
# selected thread's innermost frame: on a live process and on a core file,
# on x86_64 and aarch64. A coroutine on the
# shared stack can be walked only while it is the stack's occupant (the
# others' frames are copied away); give coroutines you want to look at a
# private stack.

import gdb
import gdb.unwinder

STATES = ["new", "ready", "running", "sleeping", "waiting", "woken",
          "timedout", "killed", "cancelled"]
WAITS = ["-", "read", "write", "rw", "queue", "sleep"]
F_PRIVATE = 1 << 1
F_STARTED = 1 << 2


def _u(expr):
    return int(gdb.parse_and_eval(expr))


def _read(addr, size):
    mem = gdb.selected_inferior().read_memory(addr, size)
    return int.from_bytes(bytes(mem), "little", signed=False)


def _layout():
    try:
        base = _u("(unsigned long)&dyco__debug")
    except gdb.error:
        raise gdb.GdbError("dyco: no dyco__debug in this program "
                           "(not linked with dyco's sched?)")
    fields = ["version", "sizeof_ptr", "s_id", "s_running", "s_slots",
              "s_nslots", "s_occupant", "s_thread", "co_state", "co_flags",
              "co_wait_kind", "co_intr", "co_cid", "co_heap_index",
              "co_deadline", "co_start_func"]
    lay = {}
    for i, name in enumerate(fields):
        lay[name] = _read(base + 4 * i, 4)
    ptr = lay["sizeof_ptr"]
    off = (4 * len(fields) + ptr - 1) // ptr * ptr
    lay["registry"] = _read(base + off, ptr)
    lay["registry_len"] = _read(base + off + ptr, ptr)
    return lay


def _schedulers(lay):
    ptr = lay["sizeof_ptr"]
    arr = _read(lay["registry"], ptr)
    n = _read(lay["registry_len"], ptr)
    return [_read(arr + i * ptr, ptr) for i in range(n)]


def _coroutines(lay, s):
    ptr = lay["sizeof_ptr"]
    slots = _read(s + lay["s_slots"], ptr)
    nslots = _read(s + lay["s_nslots"], 4)
    out = []
    for i in range(1, nslots):
        e = _read(slots + i * ptr, ptr)
        if e & 1 or e == 0:
            continue
        out.append(e)
    return out


def _field(lay, co, name, size, signed=False):
    v = _read(co + lay[name], size)
    if signed and v >= 1 << (8 * size - 1):
        v -= 1 << (8 * size)
    return v


def _symbol(pc):
    try:
        b = gdb.block_for_pc(pc)
        if b is not None and b.function is not None:
            return b.function.print_name
    except RuntimeError:
        pass
    s = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip()
    return s.split(" in section")[0].split(" + ")[0]


# The registers a context switch saves, where, and the stack pointer after
# the switch returns: (name, offset from the saved sp) per architecture.
def _saved_regs(arch, sp):
    if arch.startswith("i386:x86-64"):
        regs = {"rbp": 0x30, "rbx": 0x28, "r15": 0x20, "r14": 0x18,
                "r13": 0x10, "r12": 0x08}
        vals = {r: _read(sp + o, 8) for r, o in regs.items()}
        vals["pc"] = _read(sp + 0x38, 8)
        vals["sp"] = sp + 0x40
        return vals
    if arch.startswith("aarch64"):
        # switch_arm64_aapcs_elf_gas.S: x19-x28 at 0x00-0x48, x29 (fp) and
        # x30 (lr, where it returns to) at 0x50, d8-d15 and FPCR above;
        # 0xb0 bytes in all.
        vals = {}
        for i in range(19, 29):
            vals["x%d" % i] = _read(sp + 8 * (i - 19), 8)
        vals["x29"] = _read(sp + 0x50, 8)
        vals["pc"] = _read(sp + 0x58, 8)
        vals["sp"] = sp + 0xb0
        return vals
    raise gdb.GdbError("dyco: coroutine backtraces on %s are not done yet"
                       % arch)


class _FrameId(object):
    """gdb before 14 takes any object with sp and pc as a frame id."""

    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


_FRAME_ID = getattr(gdb.unwinder, "FrameId", _FrameId)


class _Unwinder(gdb.unwinder.Unwinder):
    """While `regs` is set, the innermost frame of the selected thread
    unwinds to them: its caller is the suspended coroutine's switch."""

    def __init__(self):
        super().__init__("dyco-coroutine")
        self.regs = None

    def __call__(self, pending):
        if self.regs is None or pending.level() != 0:
            return None
        sp_name, pc_name = self.regs["_names"]
        sp = pending.read_register(sp_name)
        pc = pending.read_register(pc_name)
        # The coroutine's stack may lie anywhere, below this frame's too:
        # an id at the bottom of the address space keeps gdb from taking
        # the jump to it for a stack unwound backwards.
        low = gdb.Value(16).cast(sp.type)
        info = pending.create_unwind_info(_FRAME_ID(low, pc))
        for r, v in self.regs.items():
            if r == "_names":
                continue
            name = {"pc": pc_name, "sp": sp_name}.get(r, r)
            info.add_saved_register(
                name, gdb.Value(v).cast(pending.read_register(name).type))
        return info


_unwinder = _Unwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _with_context(lay, s, co, fn):
    """Runs fn(first) with gdb's frames showing co from frame `first` on:
    the running coroutine from frame 0; a suspended one as the callers of
    the selected thread's innermost frame (the registers its switch saved),
    which works on a live process and on a core file alike."""
    ptr = lay["sizeof_ptr"]
    if co == _read(s + lay["s_running"], ptr):
        gdb.invalidate_cached_frames()
        return fn(0)
    flags = _field(lay, co, "co_flags", 2)
    if not flags & F_STARTED:
        raise gdb.GdbError("dyco: it has not started yet")
    if not flags & F_PRIVATE and _read(s + lay["s_occupant"], ptr) != co:
        raise gdb.GdbError("dyco: its frames are copied off the shared stack "
                           "while another coroutine has it")
    arch = gdb.selected_frame().architecture().name()
    vals = _saved_regs(arch, _read(co, ptr))
    vals["_names"] = ("rsp", "rip") if arch.startswith("i386") else ("sp",
                                                                      "pc")
    _unwinder.regs = vals
    gdb.invalidate_cached_frames()
    try:
        return fn(1)
    finally:
        _unwinder.regs = None
        gdb.invalidate_cached_frames()


def _backtrace(first):
    """gdb's backtrace from frame `first`, renumbered from #0."""
    lines = gdb.execute("bt %d" % (first + 24), to_string=True).splitlines()
    out = []
    for line in lines:
        if not line.startswith("#"):
            if out:
                out.append(line)
            continue
        num, rest = line[1:].split(" ", 1)
        n = int(num)
        if n >= first:
            out.append("#%-2d %s" % (n - first, rest.lstrip()))
    return "\n".join(out) + "\n"


def _function(lay, s, co):
    """The function co runs: the frame above co_main."""
    flags = _field(lay, co, "co_flags", 2)
    if not flags & F_STARTED:
        return _symbol(_read(co + lay["co_start_func"], lay["sizeof_ptr"]))

    def walk(first):
        f = gdb.newest_frame()
        for _ in range(first):
            f = f.older()
        prev = None
        for _ in range(64):
            if f is None:
                break
            if f.name() == "co_main":
                return prev.name() if prev is not None else "?"
            prev = f
            f = f.older()
        return "?"

    try:
        return _with_context(lay, s, co, walk)
    except gdb.GdbError as e:
        return "? (%s)" % str(e).replace("dyco: ", "")


def _current_sched(lay):
    """The scheduler of the selected thread: its pthread_t is the thread
    pointer glibc keeps (fs_base on x86_64, tpidr_el0 less the TCB on
    aarch64); else the only one."""
    scheds = _schedulers(lay)
    tp = None
    for reg in ("fs_base", "tpidr"):
        try:
            tp = int(gdb.parse_and_eval("$" + reg))
            break
        except gdb.error:
            continue
    for s in scheds:
        t = _read(s + lay["s_thread"], lay["sizeof_ptr"])
        if tp is not None and (t == tp or tp - t in range(0, 0x1000)):
            return s
    if len(scheds) == 1:
        return scheds[0]
    raise gdb.GdbError("dyco: say which scheduler: dyco-coroutine bt SCHED:ID")


class InfoCoroutines(gdb.Command):
    """List every coroutine of every dyco scheduler: id, state, what it
    waits for, its function."""

    def __init__(self):
        super().__init__("info dyco-coroutines", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        lay = _layout()
        for s in _schedulers(lay):
            sid = _read(s + lay["s_id"], 4)
            cos = _coroutines(lay, s)
            running = _read(s + lay["s_running"], lay["sizeof_ptr"])
            print("dyco scheduler %d: %d coroutines" % (sid, len(cos)))
            print("%8s  %-9s %-6s %s" % ("id", "state", "wait", "function"))
            for co in cos:
                st = _field(lay, co, "co_state", 4)
                state = "running" if co == running else (
                    STATES[st] if st < len(STATES) else str(st))
                wk = _field(lay, co, "co_wait_kind", 1)
                wait = WAITS[wk] if wk < len(WAITS) else str(wk)
                intr = _field(lay, co, "co_intr", 1)
                extra = " (cancelled)" if intr & 1 else ""
                print("%8d  %-9s %-6s %s%s" % (
                    _field(lay, co, "co_cid", 4, True), state, wait,
                    _function(lay, s, co), extra))


class CoroutinePrefix(gdb.Command):
    """dyco coroutine commands: dyco-coroutine bt [SCHED:]ID"""

    def __init__(self):
        super().__init__("dyco-coroutine", gdb.COMMAND_STACK, prefix=True)


class CoroutineBt(gdb.Command):
    """dyco-coroutine bt [SCHED:]ID: the backtrace of coroutine ID (of
    scheduler SCHED, default the selected thread's)."""

    def __init__(self):
        super().__init__("dyco-coroutine bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        lay = _layout()
        arg = arg.strip()
        if ":" in arg:
            sid, cid = (int(x) for x in arg.split(":", 1))
            found = [s for s in _schedulers(lay)
                     if _read(s + lay["s_id"], 4) == sid]
            if not found:
                raise gdb.GdbError("dyco: no scheduler %d" % sid)
            s = found[0]
        else:
            cid = int(arg)
            s = _current_sched(lay)
        for co in _coroutines(lay, s):
            if _field(lay, co, "co_cid", 4, True) == cid:
                print(_with_context(lay, s, co, _backtrace), end="")
                return
        raise gdb.GdbError("dyco: no coroutine %d" % cid)


InfoCoroutines()
CoroutinePrefix()
CoroutineBt()
