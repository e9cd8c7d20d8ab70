import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { RestrictableCallClass } from '@fedpbx/contracts';

@Entity('classes_of_service')
export class ClassOfServiceEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text') name!: string;
  @Column('jsonb') allow!: RestrictableCallClass[];
}
