// Reads Switchboard's event socket with modesl, a third-party ESL client (npm).
//
//     NODE_PATH=<node_modules> node modesl_events.js HOST PORT PASSWORD FORMAT 'NAMES'
// Authenticates with `auth PASSWORD` (AccountSid:AuthToken), subscribes,
// prints READY, then one JSON line per event until stdin closes.
const esl = require('modesl');

const [host, port, password, format, names] = process.argv.slice(2);
const conn = new esl.Connection(host, Number(port), password, () => {
    conn.events(format, names, (reply) => {
        if (!reply.getHeader('Reply-Text').startsWith('+OK event listener enabled')) {
            console.log('FAILED: ' + reply.getHeader('Reply-Text'));
            process.exit(1);
        }
        console.log('READY');
    });
});
conn.on('esl::event::**', (evt, headers) => {
    if (!/^text\/event-/.test((headers || {})['Content-Type'] || '')) return;
    console.log(JSON.stringify({
        name: evt.getHeader('Event-Name'),
        subclass: evt.getHeader('Event-Subclass'),
        type: evt.getHeader('Switchboard-Event-Type'),
        call_sid: evt.getHeader('variable_sb_call_sid'),
        account_sid: evt.getHeader('variable_sb_account_sid'),
        unique_id: evt.getHeader('Unique-ID'),
    }));
});
conn.on('error', (e) => { console.log('FAILED: ' + e.message); process.exit(1); });
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
