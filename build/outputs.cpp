#include "build/outputs.h"

#include <algorithm>
#include <functional>
#include <map>

#include "base/error.h"
#include "base/reference.h"
#include "exporter/targets.h"

namespace kiln::build {

std::vector<exporter::OutputSpec> plan_outputs(const std::vector<std::string>& specs,
                                               const std::vector<std::string>& tags, bool push) {
    std::vector<exporter::OutputSpec> outputs;
    for (const auto& o : specs)
        outputs.push_back(exporter::parse_output_spec(o));
    if (outputs.empty())
        outputs.push_back(exporter::parse_output_spec("type=image"));
    for (const auto& o : outputs)
        if (auto name = o.get("name"); !name.empty())
            kiln::parse_reference(name, "name");
    if (push) {
        if (tags.empty())
            throw UsageError("--push needs a name to push to: add -t NAME");
        bool pushed = false;
        for (auto& o : outputs)
            if (o.type == "image" || o.type == "registry") {
                o.attrs["push"] = "true";
                pushed = true;
            }
        if (!pushed)
            outputs.push_back(exporter::parse_output_spec("type=registry"));
    }
    for (const auto& o : outputs)
        if ((o.type == "registry" || o.get("push") == "true") && tags.empty() &&
            o.get("name").empty())
            throw UsageError(
                "pushing to a registry needs a name: -t NAME or -o type=registry,name=REF");
    if (std::count_if(outputs.begin(), outputs.end(), exporter::to_stdout) > 1)
        throw UsageError("only one --output can go to standard output (dest=-)");
    for (const auto& o : outputs)
        exporter::check_destination(o);
    return outputs;
}

namespace {

// Each output in its own progress vertex, written by `write`; returns the
// manifest as a registry has it after a push.
std::optional<content::Descriptor> export_each(
    const std::vector<exporter::OutputSpec>& outputs, const registry::ClientOptions& client,
    Progress& progress,
    const std::function<exporter::ExportResult(const exporter::OutputSpec&,
                                               const registry::PushOptions&)>& write) {
    std::optional<content::Descriptor> pushed;
    for (const auto& spec : outputs) {
        const std::map<std::string, std::string> titles = {
            {"image", "naming image in the local store"},
            {"oci", "exporting to oci image format"},
            {"docker", "exporting to docker image format"},
            {"local", "copying files to " + spec.get("dest")},
            {"tar", "sending tarball"},
            {"registry", "pushing to registry"}};
        VertexScope v(progress, spec.get("push") == "true" && spec.type == "image"
                                    ? "naming image and pushing to registry"
                                    : titles.at(spec.type));
        registry::PushOptions push;
        push.client = client;
        push.log = [&v](const std::string& line) { v.log(line); };
        auto result = write(spec, push);
        if (result.pushed)
            pushed = result.pushed;
        v.log(result.description + " done");
        v.done();
    }
    return pushed;
}

}  // namespace

std::optional<content::Descriptor> export_outputs(const content::StateRoot& root,
                                                  const exporter::CommittedImage& image,
                                                  const std::vector<exporter::OutputSpec>& outputs,
                                                  const std::vector<std::string>& tags,
                                                  const registry::ClientOptions& client,
                                                  Progress& progress) {
    return export_each(outputs, client, progress, [&](const auto& spec, const auto& push) {
        return exporter::export_output(root, image, spec, tags, push);
    });
}

std::optional<content::Descriptor> export_index_outputs(
    const content::StateRoot& root, const exporter::CommittedIndex& index,
    const std::vector<exporter::OutputSpec>& outputs, const std::vector<std::string>& tags,
    const registry::ClientOptions& client, Progress& progress) {
    return export_each(outputs, client, progress, [&](const auto& spec, const auto& push) {
        return exporter::export_index_output(root, index, spec, tags, push);
    });
}

}  // namespace kiln::build
