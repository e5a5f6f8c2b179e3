// Composer state (rune class): draft text and attached photos. Each photo is validated, decoded,
// downscaled and hashed as soon as it is attached (web/lib/images.ts); refusals are listed with
// their reason. Thumbnails use object URLs of the prepared JPEG, revoked when no longer shown.
// Photos are stored at once, so the draft of a conversation (ownerId) can be saved and restored.
import { putImage, type Draft } from '../lib/db';
import type { ImageRecord } from '../lib/db-schema';
import { prepareImage, type PreparedImage } from '../lib/images';

export interface Attachment {
  key: string;
  /** Original file name; the thumbnail's alt text. */
  name: string;
  status: 'processing' | 'ready';
  image?: PreparedImage;
  url?: string;
}

export interface Refusal {
  key: string;
  message: string;
}

/** A file from the picker, paste, drop, share target or launch queue. */
export interface IncomingFile {
  name: string;
  blob: Blob;
}

/**
 * Photos per message. A 2048 px photo becomes up to 16 tiles + 1 global image of 64 tokens each
 * (about 1,100 tokens); six of them already fill most of SmolVLM's 8k context.
 */
export const MAX_PHOTOS = 6;

let counter = 0;
const nextKey = () => `a${++counter}`;

class ComposerState {
  /** Conversation this draft belongs to; null for a chat that is not stored yet. */
  ownerId = $state<string | null>(null);
  text = $state('');
  attachments = $state<Attachment[]>([]);
  refusals = $state<Refusal[]>([]);
  readonly processing = $derived(this.attachments.some((a) => a.status === 'processing'));
  readonly canSend = $derived(!this.processing && (this.text.trim().length > 0 || this.attachments.length > 0));
  /** What is worth keeping across a reload. */
  readonly draft = $derived<Draft>({
    text: this.text,
    images: this.attachments.flatMap((a) => (a.image ? [{ id: a.image.id, name: a.name }] : [])),
  });

  /** Attaches photos; each is prepared independently so one bad file does not block the others. */
  async addFiles(files: IncomingFile[]): Promise<void> {
    await Promise.all(files.map((f) => this.addOne(f)));
  }

  private async addOne(file: IncomingFile): Promise<void> {
    const key = nextKey();
    const name = file.name || 'photo';
    this.attachments.push({ key, name, status: 'processing' });
    try {
      const image = await prepareImage(file.blob, name);
      // Stored now so a saved draft can refer to it; identical photos are stored once.
      await putImage({ ...image, createdAt: Date.now() }).catch((err) => console.warn('photo not stored yet', err));
      const i = this.attachments.findIndex((a) => a.key === key);
      if (i < 0) return; // removed while processing
      if (this.attachments.some((a) => a.image?.id === image.id)) {
        this.attachments.splice(i, 1); // same photo twice: keep one
        return;
      }
      // Counted among usable photos only, so refused files don't take a place.
      if (this.attachments.filter((a) => a.status === 'ready').length >= MAX_PHOTOS) {
        this.attachments.splice(i, 1);
        this.refusals.push({
          key,
          message: `"${name}" was not attached: a message can hold at most ${MAX_PHOTOS} photos. Send these first, then attach more.`,
        });
        return;
      }
      this.attachments[i] = { key, name, status: 'ready', image, url: URL.createObjectURL(image.blob) };
    } catch (err) {
      this.attachments = this.attachments.filter((a) => a.key !== key);
      this.refusals.push({ key, message: err instanceof Error ? err.message : String(err) });
    }
  }

  remove(key: string): void {
    const a = this.attachments.find((x) => x.key === key);
    if (a?.url) URL.revokeObjectURL(a.url);
    this.attachments = this.attachments.filter((x) => x.key !== key);
  }

  dismissRefusal(key: string): void {
    this.refusals = this.refusals.filter((r) => r.key !== key);
  }

  /** Ready photos in attachment order (what a send stores). */
  readyImages(): PreparedImage[] {
    return this.attachments.flatMap((a) => (a.status === 'ready' && a.image ? [a.image] : []));
  }

  /** Empties the composer after a successful send. Object URLs are handed over, not revoked. */
  clear(): void {
    this.text = '';
    this.attachments = [];
    this.refusals = [];
  }

  /** Switches to another conversation's draft (photos from the `images` store). */
  restore(ownerId: string | null, draft: Draft | undefined, images: Map<string, ImageRecord> = new Map()): void {
    for (const a of this.attachments) if (a.url) URL.revokeObjectURL(a.url);
    this.ownerId = ownerId;
    this.text = draft?.text ?? '';
    this.refusals = [];
    this.attachments = (draft?.images ?? []).flatMap(({ id, name }) => {
      const rec = images.get(id);
      if (!rec) return [];
      const image: PreparedImage = { id, blob: rec.blob, width: rec.width, height: rec.height };
      return [{ key: nextKey(), name, status: 'ready' as const, image, url: URL.createObjectURL(rec.blob) }];
    });
  }
}

export const composer = new ComposerState();
