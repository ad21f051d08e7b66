/*
 * The guest's own ticket page (/t/{code}), linked from the chat bot and from
 * messages: the QR, the 6-digit code and the event, on a phone. The code in
 * the path is the ticket itself; the page reads its sign-up (masked) from
 * GET /api/v1/tickets/{code} and shows its state in plain Chinese.
 */
'use strict';

(function () {
  const { $, h } = K;
  const code = decodeURIComponent(location.pathname.replace(/^\/t\//, ''));

  function say(text) {
    $('#t-status').textContent = text;
    $('#t-status').hidden = false;
    $('#t-ticket').hidden = true;
  }

  async function load() {
    let r;
    try {
      r = await K.api('GET', '/api/v1/tickets/' + encodeURIComponent(code));
    } catch (e) {
      say('暂时无法连接，请稍后刷新本页。忘带二维码也没关系，凭手机号即可签到。');
      return;
    }
    const err = (r.error || {}).code;
    if (r.status === 404) return say('找不到这张入场券，请核对链接，或凭手机号到现场签到。');
    if (err === 'ticket_replaced') return say('这张入场券已被更新的入场券取代，请使用最新收到的链接。');
    if (err === 'event_cancelled') return say('这场活动已取消，给您带来不便，敬请谅解。');
    if (r.status === 410) return say('这张入场券已取消。如需参加，请重新报名。');
    if (!r.ok || !r.data) return say('入场券暂时无法显示，请稍后刷新本页，或凭手机号到现场签到。');
    const d = r.data;
    const ev = d.event;
    $('#t-title').textContent = d.status === 'waitlisted' ? '候补入场券' : '入场券';
    $('#t-who').textContent = (d.name ? d.name + '，' : '') + (d.status === 'waitlisted'
      ? '您在候补名单中，有空位时工作人员会通知您。'
      : '您已报名，活动当天凭此券签到。');
    $('#t-qr').src = '/api/v1/tickets/' + encodeURIComponent(code) + '.svg';
    $('#t-short').textContent = d.short_code || '';
    $('#t-event').replaceChildren(...[
      h('p', { class: 'event-title', text: ev.title }),
      ev.description ? h('p', { class: 'event-description', text: ev.description }) : null,
      h('p', { class: 'event-when' }, h('span', { class: 'label', text: '时间' }), K.whenLabel(ev.starts_at, ev.ends_at)),
      h('p', { class: 'event-venue' }, h('span', { class: 'label', text: '地点' }), ev.venue),
    ].filter(Boolean));
    $('#t-status').hidden = true;
    $('#t-ticket').hidden = false;
  }

  load();
})();
