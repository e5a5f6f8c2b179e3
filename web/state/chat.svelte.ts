// Conversations and the open thread (rune class). Every change is written to IndexedDB first
// (web/lib/db.ts), then shown. Answers stream from the engine into an assistant message that is
// saved as it grows ('streaming'), so a crash leaves it 'interrupted' with a Retry. Without a
// loaded model nothing is generated: the user's turn is stored and the thread says so. Each
// conversation keeps its composer draft (text + photos) across switches and reloads.
import { untrack } from 'svelte';
import { SvelteMap } from 'svelte/reactivity';
import * as store from '../lib/db';
import type { ConversationRecord, ImageRecord, MessageRecord } from '../lib/db-schema';
import type { PreparedImage } from '../lib/images';
import { defaultSampling, isAbortError, type ChatTurn, type ContentPart } from '../../workers/protocol';
import { engine } from './engine.svelte';
import { settings } from './settings.svelte';
import { composer } from './composer.svelte';
import { cleanTitle, deriveTitle, matchesTitle } from './titles';

/** How often a growing answer is written to IndexedDB while streaming. */
const SAVE_EVERY_MS = 500;
/** Drafts are written this long after the last edit. */
const DRAFT_DELAY_MS = 300;
/** What `guard` returns when the storage operation failed (distinct from any value, undefined included). */
const FAILED = Symbol('storage operation failed');

export interface ImageView {
  url: string;
  width: number;
  height: number;
}

class ChatState {
  conversations = $state<ConversationRecord[]>([]);
  activeId = $state<string | null>(null);
  messages = $state<MessageRecord[]>([]);
  query = $state('');
  ready = $state(false);
  /** id of the assistant message being generated, if any. */
  streamingId = $state<string | null>(null);
  /** A storage failure the user should know about (IndexedDB unavailable, quota). */
  storageError = $state<string | null>(null);
  /** Decoded photos by ImageRecord id. */
  readonly images = new SvelteMap<string, ImageView>();
  private controller: AbortController | null = null;
  /** The (reactive) assistant message being streamed into. */
  private live: MessageRecord | null = null;
  private draftTimer: ReturnType<typeof setTimeout> | undefined;
  private pendingDraft: (() => Promise<void>) | null = null;

  readonly active = $derived(this.conversations.find((c) => c.id === this.activeId) ?? null);
  readonly filtered = $derived(this.conversations.filter((c) => matchesTitle(c.title, this.query)));
  /** The last turn is the user's and nothing answers it yet. */
  readonly awaitingAnswer = $derived(this.messages.length > 0 && this.messages[this.messages.length - 1].role === 'user');

  async init(): Promise<void> {
    await this.guard(async () => {
      await store.markInterrupted();
      await store.sweepImages();
      this.conversations = await store.listConversations();
    });
    this.ready = true;
  }

  /** Saves the composer's draft into its conversation shortly after each edit. Call once. */
  track(): () => void {
    addEventListener('pagehide', () => void this.flushDraft());
    return $effect.root(() => {
      $effect(() => {
        const owner = composer.ownerId;
        const draft = $state.snapshot(composer.draft);
        if (!owner) return;
        untrack(() => {
          clearTimeout(this.draftTimer);
          const empty = !draft.text.trim() && draft.images.length === 0;
          this.pendingDraft = () => store.updateConversation(owner, { draft: empty ? undefined : draft });
          this.draftTimer = setTimeout(() => void this.flushDraft(), DRAFT_DELAY_MS);
        });
      });
    });
  }

  /** Writes a pending draft now (before switching conversations or leaving the page). */
  async flushDraft(): Promise<void> {
    clearTimeout(this.draftTimer);
    const write = this.pendingDraft;
    this.pendingDraft = null;
    if (write) await this.guard(write);
  }

  /** Opens a conversation (null: a fresh, not yet stored chat) with its draft in the composer. */
  async select(id: string | null): Promise<void> {
    if (id === this.activeId) return;
    await this.flushDraft();
    this.activeId = id;
    if (!id) {
      this.messages = [];
      composer.restore(null, undefined);
      return;
    }
    await this.guard(async () => {
      const [messages, draft] = await Promise.all([store.listMessages(id), store.getDraft(id)]);
      await this.loadImages(messages.flatMap((m) => m.imageIds));
      const draftImages = new Map<string, ImageRecord>();
      for (const { id: imageId } of draft?.images ?? []) {
        const rec = await store.getImage(imageId);
        if (rec) draftImages.set(imageId, rec);
      }
      if (this.activeId !== id) return;
      // An answer still streaming into this conversation keeps growing on screen.
      this.messages = messages.map((m) => (this.live && m.id === this.live.id ? this.live : m));
      composer.restore(id, draft, draftImages);
    });
  }

  async create(title: string): Promise<ConversationRecord> {
    const now = Date.now();
    const conv: ConversationRecord = { id: store.newId(), title, createdAt: now, updatedAt: now };
    await store.putConversation(conv);
    this.conversations.unshift(conv);
    this.activeId = conv.id;
    this.messages = [];
    return conv;
  }

  async rename(id: string, input: string): Promise<void> {
    const title = cleanTitle(input);
    const conv = this.conversations.find((c) => c.id === id);
    if (!title || !conv) return;
    await this.guard(async () => {
      await store.updateConversation(id, { title });
      conv.title = title;
    });
  }

  async remove(id: string): Promise<void> {
    if (this.streamingId && this.activeId === id) this.stop();
    await this.guard(async () => {
      await store.deleteConversation(id);
      this.conversations = this.conversations.filter((c) => c.id !== id);
      if (this.activeId === id) {
        this.activeId = null;
        this.messages = [];
        composer.restore(null, undefined);
      }
    });
  }

  /** Stores the composer's text and photos as the user's turn, then answers if a model is loaded. */
  async send(): Promise<void> {
    if (!composer.canSend || this.streamingId) return;
    const text = composer.text.trim();
    const photos = composer.readyImages();
    const urls = composer.attachments.flatMap((a) => (a.image && a.url ? [[a.image.id, a.url] as const] : []));
    const saved = await this.guard(async () => {
      const conv = this.active ?? (await this.create(deriveTitle(text, photos.length)));
      for (const p of photos) await store.putImage({ id: p.id, blob: p.blob, width: p.width, height: p.height, createdAt: Date.now() });
      const msg: MessageRecord = {
        id: store.newId(), conversationId: conv.id, role: 'user', text, imageIds: photos.map((p) => p.id), createdAt: Date.now(),
      };
      await store.putMessage(msg);
      // The draft became this message: forget it now, not after the debounce (a reload may come first).
      clearTimeout(this.draftTimer);
      this.pendingDraft = null;
      await store.updateConversation(conv.id, { draft: undefined });
      // A conversation opened from a share starts untitled ("Shared photo"); name it after the question.
      if (this.messages.length === 0 && text && conv.title === 'Shared photo') await this.rename(conv.id, deriveTitle(text, 0));
      return { conv, msg };
    });
    if (saved === FAILED) return; // nothing was lost: the composer still holds the draft
    for (const [id, url] of urls) {
      const p = photos.find((x) => x.id === id)!;
      if (!this.images.has(id)) this.images.set(id, { url, width: p.width, height: p.height });
    }
    composer.clear();
    composer.ownerId = saved.conv.id;
    this.messages.push(saved.msg);
    this.touch(saved.conv.id);
    if (engine.model) await this.answer();
  }

  /** Generates an answer to the thread as it stands. Only offered with a loaded model. */
  async answer(): Promise<void> {
    const conv = this.active;
    if (!conv || !engine.model || this.streamingId) return;
    const turns = await this.guard(() => this.buildTurns(this.messages));
    if (turns === FAILED) return;
    const draft: MessageRecord = {
      id: store.newId(), conversationId: conv.id, role: 'assistant', text: '', imageIds: [], createdAt: Date.now(), status: 'streaming',
    };
    if ((await this.guard(() => store.putMessage(draft))) === FAILED) return;
    this.messages.push(draft);
    const live = (this.live = this.messages[this.messages.length - 1]);
    const ctl = (this.controller = new AbortController());
    this.streamingId = draft.id;
    let lastSave = Date.now();
    try {
      const sampling = { ...defaultSampling, maxNewTokens: settings.maxNewTokens };
      const stream = engine.generate(conv.id, turns, sampling, ctl.signal);
      for await (const chunk of stream) {
        live.text += chunk;
        if (Date.now() - lastSave > SAVE_EVERY_MS) {
          lastSave = Date.now();
          void store.putMessage($state.snapshot(live));
        }
      }
      const r = await stream.result;
      live.text = r.text;
      live.status = r.finishReason === 'abort' ? 'stopped' : 'done';
      live.stats = {
        timeToFirstTokenMs: r.stats.timeToFirstTokenMs,
        decodeTokensPerSecond: r.stats.decodeTokensPerSecond,
        visualTokens: r.stats.visualTokens,
        generatedTokens: r.stats.generatedTokens,
      };
    } catch (err) {
      if (isAbortError(err)) live.status = 'stopped';
      else {
        live.status = 'error';
        live.error = err instanceof Error ? err.message : String(err);
      }
    } finally {
      this.streamingId = null;
      this.controller = null;
      this.live = null;
      await this.guard(() => store.putMessage($state.snapshot(live)));
      this.touch(conv.id);
    }
  }

  stop(): void {
    this.controller?.abort();
  }

  /** Drops the given assistant message (and anything after it) and answers again. */
  async regenerate(messageId: string): Promise<void> {
    if (this.streamingId) return;
    const i = this.messages.findIndex((m) => m.id === messageId);
    if (i < 0 || !engine.model) return;
    const dropped = this.messages.slice(i).map((m) => m.id);
    if ((await this.guard(() => store.deleteMessages(dropped))) === FAILED) return;
    this.messages = this.messages.slice(0, i);
    await this.answer();
  }

  /** Opens a new conversation holding shared or launched photos in the composer. */
  async openShared(title: string | undefined, text: string | undefined, files: { name: string; blob: Blob }[]): Promise<void> {
    await this.flushDraft();
    const conv = await this.guard(() => this.create(cleanTitle(title ?? '') ?? 'Shared photo'));
    // The shared text is the question to ask; a shared title alone stands in for it.
    composer.restore(conv === FAILED ? null : conv.id, { text: text?.trim() || title?.trim() || '', images: [] });
    await composer.addFiles(files);
  }

  private async buildTurns(messages: MessageRecord[]): Promise<ChatTurn[]> {
    const turns: ChatTurn[] = [];
    for (const m of messages) {
      if (m.role === 'assistant' && (m.status !== 'done' || !m.text)) continue; // cut-off answers are not context
      const content: ContentPart[] = [];
      for (const id of m.imageIds) {
        const img = await store.getImage(id);
        if (img) content.push({ type: 'image', id, blob: img.blob });
      }
      if (m.text) content.push({ type: 'text', text: m.text });
      turns.push({ role: m.role, content });
    }
    return turns;
  }

  private async loadImages(ids: string[]): Promise<void> {
    for (const id of new Set(ids)) {
      if (this.images.has(id)) continue;
      const rec = await store.getImage(id);
      if (rec) this.images.set(id, { url: URL.createObjectURL(rec.blob), width: rec.width, height: rec.height });
    }
  }

  /** Moves a conversation to the top of the list (it was just written to). */
  private touch(id: string): void {
    const i = this.conversations.findIndex((c) => c.id === id);
    if (i < 0) return;
    const [c] = this.conversations.splice(i, 1);
    c.updatedAt = Date.now();
    this.conversations.unshift(c);
  }

  /** Runs a storage operation; a failure is shown instead of thrown, and nothing is discarded. */
  private async guard<T>(fn: () => Promise<T>): Promise<T | typeof FAILED> {
    try {
      const v = await fn();
      this.storageError = null;
      return v;
    } catch (err) {
      this.storageError =
        err instanceof Error && err.name === 'QuotaExceededError'
          ? 'Storage for Lumen on this device is full, so your last action was not saved. Delete old chats or a model in the Library, then try again.'
          : `Could not save or read your chats: ${err instanceof Error ? err.message : String(err)}. Your last action was not saved; try again.`;
      console.error(err);
      return FAILED;
    }
  }
}

export const chat = new ChatState();
