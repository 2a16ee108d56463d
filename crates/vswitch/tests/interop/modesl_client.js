// Drives the virtual switch with modesl, a third-party ESL client (npm):
// auth, api, JSON event subscription, bgapi originate, the call's events,
// then uuid_kill.
//
//     NODE_PATH=<node_modules> node modesl_client.js HOST PORT
// Exits 0 and prints INTEROP OK when every step behaved as FreeSWITCH does.
const esl = require('modesl');

const [host, port] = process.argv.slice(2);
const UUID = '5eed0000-0000-4000-8000-00000000cafe';

function check(cond, what) {
    if (!cond) {
        console.log('INTEROP FAILED: ' + what);
        process.exit(1);
    }
}

const giveUp = setTimeout(() => check(false, 'timed out'), 20000);

const conn = new esl.Connection(host, Number(port), 'ClueCon', () => {
    conn.api('status', (res) => {
        check(res.getBody().includes('is ready'), 'api status body: ' + res.getBody());
        conn.events('json', 'CHANNEL_ANSWER CHANNEL_PARK CHANNEL_HANGUP_COMPLETE', (reply) => {
            check(reply.getHeader('Reply-Text') === '+OK event listener enabled json', 'event json reply');
            let answered = false;
            conn.on('esl::event::CHANNEL_ANSWER::' + UUID, (evt) => {
                check(evt.getHeader('Answer-State') === 'answered', 'answer state');
                answered = true;
            });
            conn.on('esl::event::CHANNEL_PARK::' + UUID, (evt) => {
                check(answered, 'parked before answered');
                check(evt.getHeader('Channel-Call-State') === 'ACTIVE', 'call state at park');
                conn.api('uuid_kill ' + UUID, (res) => check(res.getBody() === '+OK\n', 'uuid_kill: ' + res.getBody()));
            });
            conn.on('esl::event::CHANNEL_HANGUP_COMPLETE::' + UUID, (evt) => {
                check(evt.getHeader('Hangup-Cause') === 'NORMAL_CLEARING', 'hangup cause');
                check(evt.getHeader('variable_billsec') !== undefined, 'billsec present');
                clearTimeout(giveUp);
                console.log('INTEROP OK');
                process.exit(0);
            });
            conn.bgapi('originate {origination_uuid=' + UUID + '}vswitch/ring=200ms;answer &park()', (job) => {
                check(job.getBody() === '+OK ' + UUID + '\n', 'BACKGROUND_JOB body: ' + job.getBody());
            });
        });
    });
});
conn.on('error', (e) => check(false, 'connection error: ' + e.message));
