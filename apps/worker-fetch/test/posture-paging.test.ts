/**
 * The next page of a posture answer is read from its last element, the WARNING (CODE 1980): only its
 * URL's id_min is taken (the request goes to the connector's own Qualys URL, never to the URL's host);
 * a WARNING that is not the answer's last element, or another code, is no paging; a paging WARNING
 * without a usable id_min is an error, never a silent last page.
 */
import t from 'tap';
import { nextIdMinOfTail } from '../src/posture-fetch.ts';

const end = (warning: string) => `<INFO_LIST></INFO_LIST><GLOSSARY></GLOSSARY>${warning}\n  </RESPONSE>\n</POSTURE_INFO_LIST_OUTPUT>\n`;
const warning = (code: string, url: string) => `<WARNING><CODE>${code}</CODE><TEXT>1000 record limit exceeded.</TEXT><URL>${url}</URL></WARNING>`;

t.equal(nextIdMinOfTail(end('')), null, 'no WARNING: the last page');
t.equal(nextIdMinOfTail(end(warning('1980', '<![CDATA[https://qualysapi.qualys.com/api/2.0/fo/compliance/posture/info/?action=list&policy_ids=1&id_min=4294967396]]>'))), '4294967396', 'CDATA URL');
t.equal(nextIdMinOfTail(end(warning('1980', 'https://qualysapi.qualys.com/api/2.0/fo/compliance/posture/info/?action=list&amp;policy_ids=1&amp;id_min=77'))), '77', 'escaped URL');
t.equal(nextIdMinOfTail(end(warning('1980', 'http://169.254.169.254/latest/?id_min=5'))), '5', 'another host: only the id_min is used');
t.equal(nextIdMinOfTail(end(warning('1999', 'https://x/?id_min=5'))), null, 'another code: no paging');
t.equal(nextIdMinOfTail(`${warning('1980', 'https://x/?id_min=5')}<GLOSSARY></GLOSSARY></RESPONSE></POSTURE_INFO_LIST_OUTPUT>`), null, 'a WARNING that is not the last element: no paging');
t.throws(() => nextIdMinOfTail(end(warning('1980', 'https://x/?id_min=abc'))), { code: 'POSTURE_PAGING_UNREADABLE' }, 'a non-numeric id_min');
t.throws(() => nextIdMinOfTail(end(warning('1980', 'https://x/?truncation_limit=5'))), { code: 'POSTURE_PAGING_UNREADABLE' }, 'no id_min');
