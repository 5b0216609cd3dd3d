import html, json, sys
cmds = json.load(open(sys.argv[1]))
out = ['<?xml version="1.0" encoding="utf-8"?>',
 '<helpItems schema="maml" xmlns="http://msh">']
def e(s): return html.escape(s, quote=False)
for c in cmds:
    verb, noun = c["name"].split("-",1)
    out.append('  <command:command xmlns:maml="http://schemas.microsoft.com/maml/2004/10" xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">')
    out.append('    <command:details>')
    out.append(f'      <command:name>{c["name"]}</command:name>')
    out.append(f'      <command:verb>{verb}</command:verb>')
    out.append(f'      <command:noun>{noun}</command:noun>')
    out.append(f'      <maml:description><maml:para>{e(c["synopsis"])}</maml:para></maml:description>')
    out.append('    </command:details>')
    out.append('    <maml:description>')
    for p in c["description"]:
        out.append(f'      <maml:para>{e(p)}</maml:para>')
    out.append('    </maml:description>')
    if c.get("parameters"):
        out.append('    <command:parameters>')
        for name, text in c["parameters"]:
            out.append('      <command:parameter required="false" globbing="false" pipelineInput="false" position="named">')
            out.append(f'        <maml:name>{name}</maml:name>')
            out.append(f'        <maml:description><maml:para>{e(text)}</maml:para></maml:description>')
            out.append('      </command:parameter>')
        out.append('    </command:parameters>')
    out.append('    <command:examples>')
    for i, (code, remarks) in enumerate(c["examples"], 1):
        out.append('      <command:example>')
        out.append(f'        <maml:title>-------------------------- Example {i} --------------------------</maml:title>')
        out.append(f'        <dev:code>{e(code)}</dev:code>')
        out.append(f'        <dev:remarks><maml:para>{e(remarks)}</maml:para></dev:remarks>')
        out.append('      </command:example>')
    out.append('    </command:examples>')
    out.append('    <command:relatedLinks>')
    out.append('      <maml:navigationLink><maml:linkText>about_Sync</maml:linkText><maml:uri></maml:uri></maml:navigationLink>')
    out.append('    </command:relatedLinks>')
    out.append('  </command:command>')
out.append('</helpItems>')
print("\n".join(out))
