/*
 * node-webot's `wechat` middleware on express for bench/wechat.sh: answers
 * every text message on POST /wechat (plain or safe mode, WX_TOKEN, WX_APPID,
 * WX_AES_KEY from the environment) with the text of REPLY_FILE, held in
 * memory. Listens on 127.0.0.1:PORT and prints "listening PORT".
 *
 *   node wechat_server.cjs PORT REPLY_FILE
 */
'use strict';

const fs = require('node:fs');
const express = require('express');
const wechat = require('wechat');

const [port, replyFile] = process.argv.slice(2);
const reply = fs.readFileSync(replyFile, 'utf8').replace(/\n$/, '');
const config = {
  token: process.env.WX_TOKEN,
  appid: process.env.WX_APPID,
  encodingAESKey: process.env.WX_AES_KEY,
};

const app = express();
app.use('/wechat', wechat(config, (req, res) => res.reply(reply)));
const server = app.listen(Number(port), '127.0.0.1', () => {
  console.log('listening ' + server.address().port);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
