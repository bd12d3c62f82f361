"""The seccomp policy of the candidate and test processes: an allowlist (stdlib + pyseccomp).

Anything not listed fails with EPERM, so a fair program that tries fork, exec or a socket gets
an error it can catch and fall back from. Calls that only an attack makes (ptrace, reading or
writing another process's memory, pidfds, namespaces, mounts, kernel keyrings, bpf...) kill
the process with SIGSYS, which the host reports as `sandbox_violation`.
"""

import errno

ALLOW = (
    # files and descriptors
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
    "open", "openat", "close", "close_range", "stat", "fstat", "lstat", "newfstatat", "statx", "lseek",
    "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "getcwd",
    "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
    "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "umask", "utime", "utimes",
    "utimensat", "futimesat", "truncate", "ftruncate", "fallocate", "fsync", "fdatasync", "flock", "fcntl",
    "dup", "dup2", "dup3", "pipe", "pipe2", "statfs", "fstatfs", "sendfile", "copy_file_range", "fadvise64",
    "select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
    "recvmsg", "getsockopt", "getsockname",  # on socketpairs (the only sockets there are)
    # memory
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore",
    # signals (to this pid namespace only: the process is alone in it)
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait", "rt_sigsuspend",
    "sigaltstack", "pause", "alarm", "setitimer", "getitimer",
    # threads, time, identity, limits
    "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "arch_prctl",
    "sched_yield", "sched_getaffinity", "sched_getparam", "sched_getscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres",
    "gettimeofday", "time", "timer_create", "timer_settime", "timer_gettime", "timer_delete",
    "timer_getoverrun", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
    "getgroups", "getpgrp", "getpgid", "getsid", "getrlimit", "prlimit64", "getrusage", "times", "uname",
    "sysinfo", "getrandom", "getcpu", "membarrier", "restart_syscall", "wait4", "waitid",
    "exit", "exit_group",
)

# Only an attack makes these: kill the process so the verdict names it.
KILL = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "process_madvise", "kcmp", "mount", "umount2", "mount_setattr", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "unshare", "setns", "pivot_root", "chroot", "bpf", "perf_event_open",
    "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "reboot", "swapon", "swapoff", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "quotactl",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
    "setgroups", "capset", "personality", "seccomp", "acct", "settimeofday", "clock_settime", "adjtimex",
    "sethostname", "setdomainname", "ioperm", "iopl", "vhangup", "syslog", "tee", "splice", "vmsplice",
)

# ioctl: only the terminal/fd queries the standard library makes; others get ENOTTY.
IOCTL_ALLOWED = (0x5401, 0x5413, 0x541B, 0x5421, 0x5450, 0x5451)  # TCGETS TIOCGWINSZ FIONREAD FIONBIO FIONCLEX FIOCLEX
PRCTL_ALLOWED = (15, 16, 21, 39, 0x53564D41)  # SET_NAME GET_NAME GET_SECCOMP GET_NO_NEW_PRIVS SET_VMA
CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000  # NS CGROUP UTS IPC USER PID NET
AF_UNIX = 1


def build(disabled=()):
    """The filter as BPF bytes. `disabled` names defences switched off, for the mutation check
    only ("seccomp": allow everything)."""
    import tempfile

    import pyseccomp as sc

    if "seccomp" in disabled:
        f = sc.SyscallFilter(defaction=sc.ALLOW)
    else:
        f = sc.SyscallFilter(defaction=sc.ERRNO(errno.EPERM))
        try:
            f.set_attr(sc.Attr.CTL_OPTIMIZE, 2)  # a binary tree: every call pays O(log n), not O(n)
        except Exception:  # libseccomp < 2.5
            pass
        kill = sc.KILL_PROCESS if hasattr(sc, "KILL_PROCESS") else sc.KILL
        for name in ALLOW:
            _add(f, sc.ALLOW, name)
        for name in KILL:
            _add(f, kill, name)
        for request in IOCTL_ALLOWED:
            f.add_rule(sc.ALLOW, "ioctl", sc.Arg(1, sc.EQ, request))
        for option in PRCTL_ALLOWED:
            f.add_rule(sc.ALLOW, "prctl", sc.Arg(0, sc.EQ, option))
        # Threads yes, processes no: clone only with CLONE_THREAD; clone3 cannot be filtered by
        # flags, so ENOSYS makes glibc fall back to clone.
        # One comparison: CLONE_THREAD set and every namespace flag clear.
        f.add_rule(sc.ALLOW, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD | CLONE_NAMESPACES, CLONE_THREAD))
        f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        f.add_rule(sc.ALLOW, "socketpair", sc.Arg(0, sc.EQ, AF_UNIX))
        # Signals within the role's pid namespace, never to 0 (a process group: B has its own
        # anyway) or 1 (the zygote). Negative pids compare as large unsigned values.
        for name in ("kill", "tkill", "tgkill"):
            f.add_rule(sc.ALLOW, name, sc.Arg(0, sc.GE, 2))
    with tempfile.TemporaryFile() as fh:
        f.export_bpf(fh)
        fh.seek(0)
        return fh.read()


def _add(f, action, name):
    try:
        f.add_rule(action, name)
    except Exception:  # a syscall this kernel or architecture lacks
        pass
