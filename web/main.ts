// App entry: applies the theme, mounts the Svelte root, then starts up: GPU probe, chat storage
// (crash recovery), photos shared into the app (share target inbox, file launch queue), and the
// engine's model tracking.
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { chat } from './state/chat.svelte';
import { engine } from './state/engine.svelte';
import { consumeInbox, consumeLaunchQueue } from './state/inbox';
import { settings } from './state/settings.svelte';

settings.applyTheme();
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => settings.applyTheme());

mount(App, { target: document.getElementById('app')! });

void engine.runProbe();
engine.track();
chat.track();
// Launches queue up until a consumer is set, so files are taken once the chat list is read.
void chat.init().then(async () => {
  await consumeInbox();
  consumeLaunchQueue();
});
