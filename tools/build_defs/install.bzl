# dyco — what `tools/bazel run //tools:install` installs: one static archive
# made of every layer's archive (this file), one shared library (a cc_binary
# with linkshared), the public headers and a pkg-config file.
"""dyco_static_library: one archive from the archives of cc_library deps."""

def _archives(deps, own_only):
    seen = {}
    out = []
    for dep in deps:
        for li in dep[CcInfo].linking_context.linker_inputs.to_list():
            if own_only and li.owner != dep.label:
                continue
            for lib in li.libraries:
                a = lib.pic_static_library or lib.static_library
                if a != None and a.path not in seen:
                    seen[a.path] = True
                    out.append(a)
    return out

def _impl(ctx):
    archives = _archives(ctx.attr.deps, ctx.attr.own_only)
    out = ctx.actions.declare_file(ctx.attr.out)
    script = ["CREATE " + out.path]
    script += ["ADDLIB " + a.path for a in archives]
    script += ["SAVE", "END"]
    ctx.actions.run_shell(
        inputs = archives,
        outputs = [out],
        command = "printf '%s\\n' \"$@\" | ar -M",
        arguments = script,
        mnemonic = "DycoArchive",
        progress_message = "Merging %d archives into %s" % (len(archives), out.short_path),
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

dyco_static_library = rule(
    implementation = _impl,
    attrs = {
        "deps": attr.label_list(providers = [CcInfo]),
        "out": attr.string(mandatory = True),
        "own_only": attr.bool(default = False),
    },
    doc = "Merges the static archives of deps (dyco's layers) into one.",
)
