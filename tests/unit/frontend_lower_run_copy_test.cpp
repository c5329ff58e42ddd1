// Lowering (frontend/lower.h): RUN (forms, heredocs, --mount, --network, --security, build
// args and history) and COPY/ADD flags. Expected values follow BuildKit's dockerfile2llb.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frontend/build_plan.h"
#include "frontend/dockerfile_error.h"
#include "frontend/lower.h"
#include "frontend/parser.h"

namespace kiln::frontend {
namespace {

using Strings = std::vector<std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

BuildPlan lower_text(const std::string& text, LowerOptions options = {}) {
    options.source = text;
    return lower(parse_dockerfile(text), options);
}

const Step& last(const BuildPlan& plan) {
    return plan.stages.at(plan.target).steps.back();
}

std::string error_of(const std::string& text, LowerOptions options = {}) {
    try {
        lower_text(text, options);
    } catch (const DockerfileError& e) {
        return e.message();
    }
    ADD_FAILURE() << "no DockerfileError for:\n" << text;
    return "";
}

// --- RUN forms -------------------------------------------------------------------------------

TEST(LowerRun, ShellForm) {
    BuildPlan plan = lower_text("FROM scratch\nRUN echo hi\n");
    const Step& s = last(plan);
    EXPECT_EQ(s.kind, Step::Kind::run);
    EXPECT_TRUE(s.run.shell_form);
    EXPECT_EQ(s.run.args, (Strings{"/bin/sh", "-c", "echo hi"}));
    EXPECT_EQ(s.created_by, "RUN /bin/sh -c echo hi # buildkit");
}

TEST(LowerRun, ExecForm) {
    BuildPlan plan = lower_text("FROM scratch\nRUN [\"/bin/echo\", \"a b\"]\n");
    EXPECT_FALSE(last(plan).run.shell_form);
    EXPECT_EQ(last(plan).run.args, (Strings{"/bin/echo", "a b"}));
    EXPECT_EQ(last(plan).created_by, "RUN /bin/echo a b # buildkit");
}

TEST(LowerRun, ShellInstructionIsUsed) {
    BuildPlan plan = lower_text("FROM scratch\nSHELL [\"/bin/bash\", \"-ec\"]\nRUN x\n");
    EXPECT_EQ(last(plan).run.args, (Strings{"/bin/bash", "-ec", "x"}));
}

TEST(LowerRun, CommandIsNotExpanded) {
    BuildPlan plan = lower_text("FROM scratch\nENV A=1\nRUN echo $A\n");
    EXPECT_EQ(last(plan).run.args.back(), "echo $A");
}

TEST(LowerRun, StepContext) {
    BuildPlan plan = lower_text("FROM scratch\nWORKDIR /w\nUSER app\nRUN x\n");
    EXPECT_EQ(last(plan).workdir_in_effect, "/w");
    EXPECT_EQ(last(plan).user, "app");
}

TEST(LowerRun, WorkdirInEffectDefaultsToRoot) {
    BuildPlan plan = lower_text("FROM scratch\nRUN x\n");
    EXPECT_EQ(last(plan).workdir_in_effect, "/");
}

TEST(LowerRun, EmptyIsAnError) {
    EXPECT_EQ(error_of("FROM scratch\nRUN []\n"), "RUN requires at least one argument");
}

// --- build args and history ------------------------------------------------------------------

TEST(LowerRun, HistoryListsDeclaredArgs) {
    BuildPlan plan = lower_text("FROM scratch\nARG A=1\nARG B\nRUN x\n");
    EXPECT_EQ(last(plan).created_by, "RUN |2 A=1 B= /bin/sh -c x # buildkit");
    EXPECT_EQ(last(plan).run.build_args, (Pairs{{"A", "1"}, {"B", ""}}));
}

TEST(LowerRun, HistoryUsesBuildArgValue) {
    LowerOptions o;
    o.build_args = {{"A", "cli"}};
    BuildPlan plan = lower_text("FROM scratch\nARG A=1\nRUN x\n", o);
    EXPECT_EQ(last(plan).created_by, "RUN |1 A=cli /bin/sh -c x # buildkit");
}

TEST(LowerRun, ProxyArgsVisibleButNotInHistory) {
    LowerOptions o;
    o.build_args = {{"HTTP_PROXY", "http://p:3128"}, {"no_proxy", "local"}};
    BuildPlan plan = lower_text("FROM scratch\nRUN x\n", o);
    EXPECT_EQ(last(plan).created_by, "RUN /bin/sh -c x # buildkit");
    EXPECT_EQ(last(plan).run.build_args,
              (Pairs{{"HTTP_PROXY", "http://p:3128"}, {"no_proxy", "local"}}));
    EXPECT_TRUE(plan.unused_build_args.empty());
}

TEST(LowerRun, UndeclaredBuildArgIsNotVisible) {
    LowerOptions o;
    o.build_args = {{"X", "1"}};
    BuildPlan plan = lower_text("FROM scratch\nRUN x\n", o);
    EXPECT_TRUE(last(plan).run.build_args.empty());
    EXPECT_EQ(plan.unused_build_args, Strings{"X"});
}

// --- heredocs --------------------------------------------------------------------------------

TEST(LowerRunHeredoc, SingleHeredocRunsThroughShell) {
    BuildPlan plan = lower_text("FROM scratch\nRUN <<EOF\necho a\necho b\nEOF\n");
    EXPECT_EQ(last(plan).run.args, (Strings{"/bin/sh", "-c", "echo a\necho b\n"}));
    ASSERT_EQ(last(plan).run.heredocs.size(), 1u);
    EXPECT_EQ(last(plan).run.heredocs[0].name, "EOF");
    EXPECT_FALSE(last(plan).run.heredoc_script);
}

TEST(LowerRunHeredoc, ChompTabs) {
    BuildPlan plan = lower_text("FROM scratch\nRUN <<-EOF\n\techo a\n\tEOF\n");
    EXPECT_EQ(last(plan).run.args.back(), "echo a\n");
}

TEST(LowerRunHeredoc, ShebangBecomesScript) {
    BuildPlan plan = lower_text("FROM scratch\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n");
    EXPECT_TRUE(last(plan).run.heredoc_script);
    EXPECT_FALSE(last(plan).run.shell_form);
    EXPECT_EQ(last(plan).run.args, Strings{"/dev/pipes/EOF"});
}

TEST(LowerRunHeredoc, HeredocAfterCommandIsReconstituted) {
    BuildPlan plan = lower_text("FROM scratch\nRUN cat <<EOF > /f\nhello\nEOF\n");
    EXPECT_EQ(last(plan).run.args, (Strings{"/bin/sh", "-c", "cat <<EOF > /f\nhello\nEOF"}));
}

// --- --mount ---------------------------------------------------------------------------------

MountSpec mount_of(const std::string& flag, const std::string& extra = "") {
    BuildPlan plan = lower_text("FROM scratch\n" + extra + "RUN --mount=" + flag + " x\n");
    return last(plan).run.mounts.at(0);
}

TEST(LowerRunMount, BindDefaults) {
    MountSpec m = mount_of("target=/src");
    EXPECT_EQ(m.type, "bind");
    EXPECT_EQ(m.target, "/src");
    EXPECT_TRUE(m.readonly);
    EXPECT_TRUE(m.from.empty());
}

TEST(LowerRunMount, BindRwAndSource) {
    MountSpec m = mount_of("type=bind,src=sub,dst=/s,rw");
    EXPECT_EQ(m.source, "sub");
    EXPECT_EQ(m.target, "/s");
    EXPECT_FALSE(m.readonly);
}

TEST(LowerRunMount, ReadonlyWithValue) {
    EXPECT_FALSE(mount_of("target=/s,readonly=false").readonly);
    EXPECT_FALSE(mount_of("target=/s,readwrite=true").readonly);
}

TEST(LowerRunMount, RelativeTargetUsesWorkdir) {
    EXPECT_EQ(mount_of("target=cache", "WORKDIR /app\n").target, "/app/cache");
}

TEST(LowerRunMount, CacheDefaults) {
    MountSpec m = mount_of("type=cache,target=/root/.cache");
    EXPECT_EQ(m.type, "cache");
    EXPECT_FALSE(m.readonly);
    EXPECT_EQ(m.id, "/root/.cache");
    EXPECT_EQ(m.sharing, "shared");
}

TEST(LowerRunMount, CacheKeys) {
    MountSpec m = mount_of("type=cache,target=/c,id=go,sharing=locked,mode=0700,uid=1000,gid=50");
    EXPECT_EQ(m.id, "go");
    EXPECT_EQ(m.sharing, "locked");
    EXPECT_EQ(m.mode, "0700");
    EXPECT_EQ(m.uid, "1000");
    EXPECT_EQ(m.gid, "50");
}

TEST(LowerRunMount, TmpfsSize) {
    MountSpec m = mount_of("type=tmpfs,target=/t,size=64m");
    EXPECT_EQ(m.type, "tmpfs");
    EXPECT_EQ(m.size, "64m");
    EXPECT_FALSE(m.readonly);
}

TEST(LowerRunMount, SecretDefaults) {
    MountSpec m = mount_of("type=secret,id=tok");
    EXPECT_EQ(m.type, "secret");
    EXPECT_EQ(m.id, "tok");
    EXPECT_EQ(m.target, "/run/secrets/tok");
    EXPECT_TRUE(m.readonly);
}

TEST(LowerRunMount, SecretEnvAndRequired) {
    MountSpec m = mount_of("type=secret,id=aws,env=AWS_KEY,required");
    EXPECT_EQ(m.env, "AWS_KEY");
    EXPECT_TRUE(m.required);
}

TEST(LowerRunMount, SecretIdFromTarget) {
    EXPECT_EQ(mount_of("type=secret,target=/etc/creds").id, "creds");
}

TEST(LowerRunMount, SshDefaults) {
    MountSpec m = mount_of("type=ssh");
    EXPECT_EQ(m.id, "default");
    EXPECT_EQ(m.target, "/run/buildkit/ssh_agent.0");
}

TEST(LowerRunMount, FromImage) {
    MountSpec m = mount_of("from=alpine,target=/a");
    EXPECT_EQ(m.from_image, "alpine");
    EXPECT_EQ(m.from_stage, -1);
}

TEST(LowerRunMount, ValuesAreExpanded) {
    EXPECT_EQ(mount_of("target=$D", "ENV D=/dir\n").target, "/dir");
}

TEST(LowerRunMount, Several) {
    BuildPlan plan = lower_text(
        "FROM scratch\nRUN --mount=type=cache,target=/a --mount=type=tmpfs,target=/b x\n");
    EXPECT_EQ(last(plan).run.mounts.size(), 2u);
}

TEST(LowerRunMount, Errors) {
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=nfs,target=/a x\n"),
              "unsupported mount type \"nfs\"");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=target=/a,bogus=1 x\n"),
              "unexpected key 'bogus' in 'bogus=1'");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=target=/a,bogus x\n"),
              "invalid field 'bogus' must be a key=value pair");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=cache,target=/a,sharing=all x\n"),
              "unsupported sharing value \"all\"");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=cache,target=/a,mode=9 x\n"),
              "invalid value 9 for mode");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=bind,target=/a,mode=0755 x\n"),
              "mode not allowed for \"bind\" type mounts");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=bind,target=/a,sharing=shared x\n"),
              "invalid cache sharing set for bind mount");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=bind,target=/a,size=1 x\n"),
              "unexpected key 'size' for mount type 'bind'");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=secret x\n"),
              "invalid secret mount. one of source, target required");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=secret,id=a,from=b x\n"),
              "secret mount should not have a from");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=bind,target=/a,ro=maybe x\n"),
              "invalid value for ro: maybe");
    EXPECT_EQ(error_of("FROM scratch\nRUN --mount=type=bind x\n"), "invalid mount target \"/\"");
}

// --- --network / --security ------------------------------------------------------------------

TEST(LowerRunFlags, Network) {
    EXPECT_EQ(last(lower_text("FROM scratch\nRUN --network=none x\n")).run.network, "none");
    EXPECT_EQ(last(lower_text("FROM scratch\nRUN --network=host x\n")).run.network, "host");
    EXPECT_EQ(last(lower_text("FROM scratch\nRUN --network=default x\n")).run.network, "");
    EXPECT_EQ(error_of("FROM scratch\nRUN --network=bridge x\n"),
              "unsupported network mode \"bridge\"");
}

TEST(LowerRunFlags, Security) {
    EXPECT_EQ(last(lower_text("FROM scratch\nRUN --security=insecure x\n")).run.security,
              "insecure");
    EXPECT_EQ(last(lower_text("FROM scratch\nRUN --security=sandbox x\n")).run.security, "sandbox");
    EXPECT_EQ(error_of("FROM scratch\nRUN --security=root x\n"),
              "unsupported security mode \"root\"");
}

TEST(LowerRunFlags, Unknown) {
    EXPECT_EQ(error_of("FROM scratch\nRUN --device=x x\n"), "unknown flag: device");
}

// --- COPY / ADD ------------------------------------------------------------------------------

TEST(LowerCopyFlags, LinkParentsExclude) {
    BuildPlan plan =
        lower_text("FROM scratch\nCOPY --link --parents --exclude=*.md --exclude=x a/./b /d/\n");
    const CopySpec& c = last(plan).copy;
    EXPECT_TRUE(c.link);
    EXPECT_TRUE(c.parents);
    EXPECT_EQ(c.excludes, (Strings{"*.md", "x"}));
    EXPECT_EQ(last(plan).created_by, "COPY --parents a/./b /d/ # buildkit");
}

TEST(LowerCopyFlags, BoolFlagValue) {
    EXPECT_FALSE(last(lower_text("FROM scratch\nCOPY --link=false a /b\n")).copy.link);
    EXPECT_EQ(error_of("FROM scratch\nCOPY --link=maybe a /b\n"),
              "expecting boolean value for flag link, not: maybe");
}

TEST(LowerCopyFlags, SymbolicChmodIsKept) {
    EXPECT_EQ(last(lower_text("FROM scratch\nCOPY --chmod=u+x,go-w a /b\n")).copy.chmod,
              "u+x,go-w");
}

TEST(LowerCopyFlags, BadChmod) {
    EXPECT_EQ(error_of("FROM scratch\nCOPY --chmod=17777 a /b\n"),
              "invalid chmod parameter: '17777'. it should be octal string and between 0 and "
              "07777");
}

TEST(LowerCopyFlags, CopyRejectsAddFlags) {
    EXPECT_EQ(error_of("FROM scratch\nCOPY --checksum=sha256:00 a /b\n"), "unknown flag: checksum");
}

TEST(LowerCopyFlags, CopyRejectsUrl) {
    EXPECT_EQ(error_of("FROM scratch\nCOPY https://example.com/f /b\n"),
              "source can't be a URL for COPY");
}

// The frontend and the solver classify ADD sources with one function (base/add_source.h),
// so what COPY refuses is what ADD would fetch: a ".git" path before a query is a git
// repository, a trailing slash after ".git" makes it a plain URL (BuildKit's ParseGitRef).
TEST(LowerCopyFlags, CopyRejectsGitWithAQuery) {
    EXPECT_EQ(error_of("FROM scratch\nCOPY https://h.test/r.git?ref=main /b\n"),
              "source can't be a git ref for COPY");
}

TEST(LowerCopyFlags, CopyRejectsScpStyleGit) {
    EXPECT_EQ(error_of("FROM scratch\nCOPY user@h.test:org/r.git /b\n"),
              "source can't be a git ref for COPY");
}

TEST(LowerCopyFlags, GitPathWithTrailingSlashIsAUrl) {
    EXPECT_EQ(error_of("FROM scratch\nCOPY https://h.test/r.git/ /b\n"),
              "source can't be a URL for COPY");
    // ... so ADD accepts a checksum for it, which it refuses for a git source.
    EXPECT_NO_THROW(lower_text("FROM scratch\nADD --checksum=sha256:" + std::string(64, 'a') +
                               " https://h.test/r.git/ /b\n"));
    EXPECT_EQ(error_of("FROM scratch\nADD --checksum=sha256:" + std::string(64, 'a') +
                       " https://h.test/r.git?x=1 /b\n"),
              "checksum can't be specified for non-HTTP(S) sources");
}

TEST(LowerCopyFlags, FromIsNotExpanded) {
    BuildPlan plan = lower_text("FROM scratch\nARG S=x\nCOPY --from=$S a /b\n");
    EXPECT_EQ(last(plan).copy.from, "$S");
}

TEST(LowerCopyHeredoc, SourcesAreFiles) {
    BuildPlan plan =
        lower_text("FROM scratch\nENV N=world\nCOPY <<A <<\"B\" /d/\nhi $N\nA\n$N\nB\n");
    const CopySpec& c = last(plan).copy;
    ASSERT_EQ(c.heredocs.size(), 2u);
    EXPECT_EQ(c.heredocs[0].name, "A");
    EXPECT_EQ(c.heredocs[0].content, "hi world\n");
    EXPECT_EQ(c.heredocs[1].content, "$N\n");
    EXPECT_TRUE(c.sources.empty());
    EXPECT_TRUE(c.dest_is_dir);
    EXPECT_EQ(last(plan).created_by, "COPY <<A <<B /d/ # buildkit");
}

TEST(LowerCopyHeredoc, ExpansionKeepsQuotes) {
    BuildPlan plan = lower_text("FROM scratch\nENV N=1\nCOPY <<EOF /f\n\"$N\" 'x'\nEOF\n");
    EXPECT_EQ(last(plan).copy.heredocs.at(0).content, "\"1\" 'x'\n");
}

TEST(LowerCopyHeredoc, DestCannotBeHeredoc) {
    EXPECT_EQ(error_of("FROM scratch\nCOPY a <<EOF\nx\nEOF\n"),
              "COPY cannot accept a heredoc as a destination");
}

TEST(LowerAdd, UrlAndFlags) {
    BuildPlan plan = lower_text(
        "FROM scratch\nADD --checksum=sha256:"
        "24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d "
        "--unpack=false https://example.com/a.tar.gz /d/\n");
    const CopySpec& c = last(plan).copy;
    EXPECT_TRUE(c.is_add);
    EXPECT_EQ(c.sources, Strings{"https://example.com/a.tar.gz"});
    EXPECT_FALSE(c.unpack);
    EXPECT_TRUE(c.unpack_set);
    EXPECT_EQ(last(plan).created_by, "ADD https://example.com/a.tar.gz /d/ # buildkit");
}

TEST(LowerAdd, KeepGitDir) {
    BuildPlan plan =
        lower_text("FROM scratch\nADD --keep-git-dir https://github.com/moby/buildkit.git /s\n");
    EXPECT_TRUE(last(plan).copy.keep_git_dir);
    EXPECT_FALSE(last(plan).copy.unpack_set);
}

TEST(LowerAdd, HistoryWithChown) {
    BuildPlan plan = lower_text("FROM scratch\nADD --chown=1:1 a.tar /x\n");
    EXPECT_EQ(last(plan).created_by, "ADD --chown=1:1 a.tar /x # buildkit");
}

TEST(LowerAdd, ChecksumErrors) {
    EXPECT_EQ(error_of("FROM scratch\nADD --checksum=sha256:aa local /x\n"),
              "checksum can't be specified for non-HTTP(S) sources");
    EXPECT_EQ(error_of("FROM scratch\nADD --checksum=sha256:aa https://a/b https://a/c /x/\n"),
              "checksum can't be specified for multiple sources");
    EXPECT_EQ(error_of("FROM scratch\nADD --checksum=md5:aa https://a/b /x\n"),
              "invalid checksum digest format");
}

TEST(LowerAdd, FromIsUnknownFlag) {
    EXPECT_EQ(error_of("FROM scratch\nADD --from=x a /b\n"), "unknown flag: from");
}

}  // namespace
}  // namespace kiln::frontend
